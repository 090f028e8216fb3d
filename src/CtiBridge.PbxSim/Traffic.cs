using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim;

/// <summary>Inbound traffic: customers calling in on a trunk with Poisson arrivals, patience and talk time.</summary>
public sealed class InboundTraffic
{
    /// <summary>Trunk the customers call in on.</summary>
    public string Trunk { get; set; } = "carrier";

    /// <summary>Number they call (the trunk's context decides what happens).</summary>
    public string Number { get; set; } = "100";

    /// <summary>Mean arrival rate (calls per second of model time).</summary>
    public double CallsPerSecond { get; set; } = 1;

    /// <summary>Mean patience: an unanswered (unbridged) caller hangs up after an exponential draw with this mean.</summary>
    public double MeanPatienceSeconds { get; set; } = 30;

    /// <summary>Mean talk time once bridged (exponential).</summary>
    public double MeanTalkSeconds { get; set; } = 60;

    /// <summary>Stop after this many calls (every traffic run is bounded).</summary>
    public int MaxCalls { get; set; } = 100;
}

/// <summary>How customers dialled out through a trunk answer (probabilities add up to at most 1; the rest answer).</summary>
public sealed class DialledCustomers
{
    /// <summary>Share that is busy (cause 17).</summary>
    public double Busy { get; set; } = 0.1;

    /// <summary>Share that never answers.</summary>
    public double NoAnswer { get; set; } = 0.2;

    /// <summary>Share that is an invalid number (cause 1, CHANUNAVAIL).</summary>
    public double Invalid { get; set; } = 0.05;

    /// <summary>Share answered by a machine (answers, then hangs up after <see cref="MachineMessageSeconds"/>).</summary>
    public double Machine { get; set; } = 0.1;

    /// <summary>How long a dialled customer's phone rings before a person or machine answers.</summary>
    public double RingSeconds { get; set; } = 4;

    /// <summary>How long an answering machine talks before hanging up.</summary>
    public double MachineMessageSeconds { get; set; } = 8;
}

/// <summary>Runs an <see cref="InboundTraffic"/> profile on the model clock.</summary>
internal sealed class TrafficGenerator(PbxSimulator simulator, InboundTraffic profile, int seed)
{
    private readonly Random _random = new(seed);
    private int _placed;

    public int Placed => _placed;

    private TimeSpan Exponential(double mean) => TimeSpan.FromSeconds(-mean * Math.Log(1 - _random.NextDouble()));

    /// <summary>Schedules the first arrival; each arrival schedules the next until <see cref="InboundTraffic.MaxCalls"/>.</summary>
    public void Start()
    {
        lock (simulator.Gate)
        {
            simulator.Trunk(profile.Trunk);
            ScheduleNext();
        }
    }

    private void ScheduleNext()
    {
        if (_placed >= profile.MaxCalls || profile.CallsPerSecond <= 0)
        {
            return;
        }

        simulator.Model.Schedule(Exponential(1 / profile.CallsPerSecond), Arrive);
    }

    private void Arrive()
    {
        _placed++;
        var number = "555" + _random.Next(1_000_000, 9_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var channel = simulator.Model.PlaceCallFrom(profile.Trunk, profile.Number, number, "Customer " + _placed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var patience = Exponential(profile.MeanPatienceSeconds);
        var talk = Exponential(profile.MeanTalkSeconds);
        simulator.Model.Schedule(patience, () =>
        {
            if (channel.Gone)
            {
                return;
            }

            if (channel.Bridge is null)
            {
                simulator.Model.RemoteHangup(channel, 16);
            }
            else
            {
                simulator.Model.Schedule(talk, () => simulator.Model.RemoteHangup(channel, 16));
            }
        });
        ScheduleNext();
    }
}
