namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// PbxSim on a fake clock with one logged-in AMI connection (events on), for the Queue application
/// tests: send an action and wait until PbxSim dispatched it, move the clock, read what was published
/// up to now.
/// </summary>
internal sealed class QueueRig : IAsyncDisposable
{
    private QueueRig(PbxSimulator sim, SignallingTimeProvider clock, AmiTestConnection ami)
    {
        Sim = sim;
        Clock = clock;
        Ami = ami;
    }

    public PbxSimulator Sim { get; }

    public SignallingTimeProvider Clock { get; }

    public AmiTestConnection Ami { get; }

    private int _marks;

    public static async Task<QueueRig> StartAsync(PbxSimOptions options, CancellationToken ct)
    {
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        var sim = new PbxSimulator(options, clock);
        await sim.StartAsync(ct);
        var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n", ct);
        Assert.Contains("Authentication accepted", await ami.ReadMessageAsync(ct));
        return new QueueRig(sim, clock, ami);
    }

    /// <summary>Sends an action and waits until PbxSim has dispatched it (then the fake clock may move).</summary>
    public async Task SendAsync(string action, CancellationToken ct)
    {
        var next = Sim.Progress.Count + 1;
        await Ami.SendAsync(action, ct);
        await Sim.Progress.WaitForAsync(next, ct);
    }

    /// <summary>An async Originate of <paramref name="channel"/> whose other half is a customer who stays on the line.</summary>
    public Task OriginateAsync(string channel, CancellationToken ct, string callerNumber = "5550000001") =>
        SendAsync($"Action: Originate\r\nChannel: {channel}\r\nContext: customer\r\nExten: talk\r\nPriority: 1\r\nCallerID: \"Queue Test\" <{callerNumber}>\r\nAsync: true\r\n\r\n", ct);

    /// <summary>
    /// Moves the fake clock on by <paramref name="by"/>, once PbxSim has finished the work in hand: an
    /// event can be read while the action that published it still runs under the model lock, and a
    /// clock moved meanwhile races the timer that work arms (a due timer may then never fire).
    /// </summary>
    public void Advance(TimeSpan by)
    {
        lock (Sim.Gate)
        {
            // Nothing to do: taking the lock waits for the model to be idle.
        }

        Clock.AdvanceTo(Clock.GetUtcNow() + by);
    }

    /// <summary>Everything published so far: a Ping marks the end (AMI sends in order).</summary>
    public async Task<List<string>> DrainAsync(CancellationToken ct)
    {
        var mark = "drain-" + (++_marks).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await SendAsync($"Action: Ping\r\nActionID: {mark}\r\n\r\n", ct);
        var seen = await ReadUntilAsync(m => m.Contains("ActionID: " + mark + "\r\n", StringComparison.Ordinal), ct);
        seen.RemoveAt(seen.Count - 1);
        return seen;
    }

    /// <summary>Reads messages until one matches <paramref name="stop"/> (included).</summary>
    public async Task<List<string>> ReadUntilAsync(Func<string, bool> stop, CancellationToken ct)
    {
        var seen = new List<string>();
        while (true)
        {
            string? message;
            try
            {
                message = await Ami.ReadMessageAsync(ct);
            }
            catch (TimeoutException e)
            {
                string state;
                lock (Sim.Gate)
                {
                    state = $"now {Clock.GetUtcNow():HH:mm:ss.fff}, timers {Sim.Model.TimerState}, channels "
                        + string.Join(", ", Sim.Model.Channels.Values.Select(c => $"{c.Name} {c.State} {c.Application}"));
                }

                throw new TimeoutException($"Read so far: {string.Join(" / ", seen.Select(Summary))}\nModel: {state}", e);
            }

            Assert.NotNull(message);
            seen.Add(message!);
            if (stop(message!))
            {
                return seen;
            }
        }
    }

    /// <summary>First line and channel of a message, for failure texts.</summary>
    public static string Summary(string message) =>
        message.Split("\r\n")[0] + " " + message.Split("\r\n").FirstOrDefault(l => l.StartsWith("Channel:", StringComparison.Ordinal));

    /// <summary>True for an event of that name carrying every given header line.</summary>
    public static bool Is(string message, string eventName, params string[] headers) =>
        message.Contains("Event: " + eventName + "\r\n", StringComparison.Ordinal) && headers.All(h => message.Contains(h + "\r\n", StringComparison.Ordinal));

    public List<string> QueueLog()
    {
        lock (Sim.Gate)
        {
            return [.. Sim.Model.QueueLog];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Ami.DisposeAsync();
        await Sim.DisposeAsync();
    }
}
