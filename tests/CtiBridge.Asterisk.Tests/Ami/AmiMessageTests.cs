using System.Buffers;
using System.Text;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>
/// <see cref="AmiMessage"/> keeps raw header bytes and decodes on demand: lookups, repeated keys,
/// odd lines and concurrent first reads must give the same answers as a list of strings would.
/// </summary>
public sealed class AmiMessageTests
{
    private static AmiMessage Parse(string wire)
    {
        var parser = new AmiFrameParser();
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        Assert.True(parser.TryRead(ref buffer, out var frame));
        return frame.Message!;
    }

    [Fact]
    public void Lookup_IsCaseInsensitiveFirstMatch_AndValuesKeepColonsAndSpaces()
    {
        var message = Parse("Event: VarSet\r\nVariable: A\r\nvariable: B\r\nValue:  two spaces: and colon\r\nNoSpace:x\r\nEmpty:\r\nEmptySpace: \r\n\r\n");

        Assert.True(message.IsEvent);
        Assert.False(message.IsResponse);
        Assert.Equal("VarSet", message.EventName);
        Assert.Equal("A", message["VARIABLE"]);
        Assert.Equal(["A", "B"], message.GetValues("Variable"));
        Assert.Equal(" two spaces: and colon", message["value"]);
        Assert.Equal("x", message["NoSpace"]);
        Assert.Equal("", message["Empty"]);
        Assert.Equal("", message["EmptySpace"]);
        Assert.Null(message["Missing"]);
        Assert.Null(message.Response);
        Assert.Equal(7, message.Count);
        Assert.Equal(new KeyValuePair<string, string>("variable", "B"), message[2]);
    }

    [Fact]
    public void LineWithoutColon_IsKeptUnderAnEmptyKey()
    {
        var message = Parse("Response: Success\r\nno colon here\r\n\r\n");

        Assert.True(message.IsSuccess);
        Assert.Equal(new KeyValuePair<string, string>("", "no colon here"), message[1]);
        Assert.Equal("no colon here", message[""]);
    }

    [Fact]
    public void NonAsciiKeysAndValues_RoundTripAndMatchIgnoringCase()
    {
        var message = Parse("Event: UserEvent\r\nÄnderung: 張偉\r\nCallerIDName: Zoë\r\n\r\n");

        Assert.Equal("張偉", message["änderung"]);
        Assert.Equal("Zoë", message["calleridname"]);
        Assert.Equal("Event: UserEvent\r\nÄnderung: 張偉\r\nCallerIDName: Zoë", message.ToString());
    }

    [Fact]
    public void BuiltFromHeaders_BehavesLikeAParsedMessage()
    {
        var headers = new KeyValuePair<string, string>[] { new("Response", "Error"), new("ActionID", "x.1-7"), new("Message", "No such channel"), new("Output", "a"), new("Output", "b") };
        var built = new AmiMessage(headers);
        var parsed = Parse("Response: Error\r\nActionID: x.1-7\r\nMessage: No such channel\r\nOutput: a\r\nOutput: b\r\n\r\n");

        Assert.Equal(parsed.ToList(), built.ToList());
        Assert.True(built.IsResponse);
        Assert.False(built.IsSuccess);
        Assert.Equal("Error", built.Response);
        Assert.Equal("x.1-7", built.ActionId);
        Assert.Equal("No such channel", built.Text);
        Assert.Equal(["a", "b"], built.GetValues("output"));
    }

    [Fact]
    public void FirstReadsFromManyThreads_AllSeeTheSameValues()
    {
        var wire = new StringBuilder("Event: Big\r\n");
        for (var i = 0; i < 200; i++)
        {
            wire.Append("Key").Append(i).Append(": value ").Append(i).Append("\r\n");
        }

        var message = Parse(wire.Append("\r\n").ToString());
        var results = new string?[8][];
        Parallel.For(0, 8, t =>
        {
            results[t] = [.. Enumerable.Range(0, 200).Select(i => message["key" + ((i + (t * 25)) % 200)])];
        });

        for (var t = 0; t < 8; t++)
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.Equal("value " + ((i + (t * 25)) % 200), results[t][i]);
            }
        }
    }
}
