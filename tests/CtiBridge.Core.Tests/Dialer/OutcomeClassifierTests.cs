using System.Text.Json;
using System.Text.RegularExpressions;
using CtiBridge.Core.Dialer;

namespace CtiBridge.Core.Tests.Dialer;

public sealed partial class OutcomeClassifierTests
{
    [Fact]
    public void FromOriginateResponse_RecordedAsteriskOutcomes_ClassifiedAsTheScenarioIntended()
    {
        // ActionID dial-<scenario> -> the OriginateResponse Reason and the dialled (;2) half's hang-up cause.
        var path = Path.Combine(DialerTestKit.AsteriskFixtures, "ami", "originate-outcomes.jsonl");
        var messages = File.ReadLines(path)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("dir").GetString() == "rx")
            .Select(e => e.GetProperty("data").GetString()!)
            .ToList();
        var causesByExten = new Dictionary<string, int>();
        foreach (var m in messages.Where(m => m.StartsWith("Event: Hangup\r\n", StringComparison.Ordinal) && m.Contains(";2\r\n", StringComparison.Ordinal)))
        {
            causesByExten[Header(m, "Channel").Split('@')[0]] = int.Parse(Header(m, "Cause"));
        }

        var seen = new Dictionary<string, CallOutcome>();
        foreach (var m in messages.Where(m => m.StartsWith("Event: OriginateResponse\r\n", StringComparison.Ordinal)))
        {
            var scenario = Header(m, "ActionID")["dial-".Length..];
            var reason = OutcomeClassifier.ParseOriginateReason(Header(m, "Reason"));
            int? cause = causesByExten.TryGetValue(Header(m, "Channel").Split('@')[0], out var c) ? c : null;
            var amd = scenario == "machine" ? "MACHINE" : scenario == "human" ? "HUMAN" : null;
            seen[scenario] = OutcomeClassifier.FromOriginateResponse(reason, cause, amd);
        }

        Assert.Equal(CallOutcome.Busy, seen["busy"]);
        Assert.Equal(CallOutcome.Congestion, seen["congestion"]);
        Assert.Equal(CallOutcome.NoAnswer, seen["noanswer"]);
        Assert.Equal(CallOutcome.Rejected, seen["reject"]);
        Assert.Equal(CallOutcome.Rejected, seen["unavailable"]);
        // A Local channel to a missing extension ends with cause 0: no verdict on the number, so it may be retried.
        Assert.Equal(CallOutcome.Failed, seen["unknown"]);
        Assert.Equal(CallOutcome.Machine, seen["machine"]);
        Assert.Equal(CallOutcome.HumanAnswer, seen["human"]);
    }

    [Fact]
    public void FromAriDialStatus_RecordedDialerScenario_ClassifiesEveryCustomerLeg()
    {
        var path = Path.Combine(DialerTestKit.AsteriskFixtures, "ari", "dialer.events.jsonl");
        var finals = new Dictionary<string, CallOutcome>();
        foreach (var line in File.ReadLines(path))
        {
            var payload = JsonDocument.Parse(line).RootElement.GetProperty("payload").GetString()!;
            if (!payload.StartsWith('{'))
            {
                continue;
            }

            var ev = JsonDocument.Parse(payload).RootElement;
            if (ev.GetProperty("type").GetString() == "Dial"
                && OutcomeClassifier.FromAriDialStatus(ev.GetProperty("dialstatus").GetString()) is { } outcome)
            {
                finals[ev.GetProperty("peer").GetProperty("id").GetString()!] = outcome;
            }
        }

        Assert.Equal(CallOutcome.Busy, finals["dial-busy"]);
        Assert.Equal(CallOutcome.Congestion, finals["dial-congestion"]);
        Assert.Equal(CallOutcome.HumanAnswer, finals["dial-human"]);
        Assert.False(finals.ContainsKey("dial-noanswer")); // only RINGING was seen: the app's own timeout ends it
    }

    [Theory]
    [InlineData(1)]
    [InlineData(28)]
    [InlineData(3)]
    [InlineData(22)]
    public void FromOriginateResponse_FailedWithUnallocatedOrInvalidFormatCause_MarksNumberInvalid(int cause)
    {
        var outcome = OutcomeClassifier.FromOriginateResponse(0, cause);

        Assert.Equal(CallOutcome.InvalidNumber, outcome);
        Assert.True(outcome.IsInvalidNumber());
    }

    [Fact]
    public void FromOriginateResponse_SitToneDetected_MarksNumberInvalidWhateverTheReason()
    {
        Assert.Equal(CallOutcome.InvalidNumber, OutcomeClassifier.FromOriginateResponse(8, 34, sitDetected: true));
        Assert.Equal(CallOutcome.InvalidNumber, OutcomeClassifier.FromAriDialStatus("CONGESTION", sitDetected: true));
    }

    [Theory]
    [InlineData("BUSY", null, CallOutcome.Busy)]
    [InlineData("NOANSWER", null, CallOutcome.NoAnswer)]
    [InlineData("CONGESTION", 34, CallOutcome.Congestion)]
    [InlineData("CONGESTION", 1, CallOutcome.InvalidNumber)]
    [InlineData("CHANUNAVAIL", 20, CallOutcome.Rejected)]
    [InlineData("CHANUNAVAIL", 28, CallOutcome.InvalidNumber)]
    [InlineData("CHANUNAVAIL", null, CallOutcome.Failed)]
    [InlineData("CANCEL", null, CallOutcome.Failed)]
    [InlineData("answer", null, CallOutcome.HumanAnswer)]
    public void FromAriDialStatus_FinalStatus_Classified(string status, int? cause, CallOutcome expected) =>
        Assert.Equal(expected, OutcomeClassifier.FromAriDialStatus(status, cause));

    [Theory]
    [InlineData("RINGING")]
    [InlineData("PROGRESS")]
    [InlineData("")]
    public void FromAriDialStatus_IntermediateStatus_GivesNoOutcomeYet(string status) =>
        Assert.Null(OutcomeClassifier.FromAriDialStatus(status));

    [Theory]
    [InlineData(null, CallOutcome.HumanAnswer)]
    [InlineData("NOTSURE", CallOutcome.HumanAnswer)]
    [InlineData("HUMAN", CallOutcome.HumanAnswer)]
    [InlineData("machine", CallOutcome.Machine)]
    public void FromAmdStatus_UncertainVerdict_TreatedAsPersonSoNobodyIsHungUpOn(string? amd, CallOutcome expected) =>
        Assert.Equal(expected, OutcomeClassifier.FromAmdStatus(amd));

    [Fact]
    public void ParseOriginateReason_NotANumber_ErrorNamesTheValue()
    {
        var error = Assert.Throws<FormatException>(() => OutcomeClassifier.ParseOriginateReason("busy"));
        Assert.Contains("'busy'", error.Message, StringComparison.Ordinal);
    }

    private static string Header(string message, string name)
    {
        var match = HeaderPattern().Matches(message).FirstOrDefault(m => m.Groups[1].Value == name)
                    ?? throw new InvalidOperationException($"no {name} header in {message}");
        return match.Groups[2].Value;
    }

    [GeneratedRegex(@"^([A-Za-z-]+): ?(.*?)\r$", RegexOptions.Multiline)]
    private static partial Regex HeaderPattern();
}
