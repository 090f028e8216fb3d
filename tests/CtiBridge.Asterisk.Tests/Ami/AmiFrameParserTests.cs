using System.Buffers;
using System.Text;
using CsCheck;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

public sealed class AmiFrameParserTests
{
    public static TheoryData<string> Sessions => [.. AmiFixtures.Names];

    public static TheoryData<string> SmallSessions =>
        [.. AmiFixtures.Names.Where(n => new FileInfo(Path.Combine(AmiFixtures.Directory, n + ".rx")).Length <= 12_000)];

    [Fact]
    public void Fixtures_AllRecordedSessions_ArePresent()
    {
        // Guards the theories below against silently running over an empty folder.
        Assert.True(AmiFixtures.Names.Count() >= 24, $"found only {AmiFixtures.Names.Count()} .rx files in {AmiFixtures.Directory}");
    }

    [Theory]
    [MemberData(nameof(Sessions))]
    public void TryRead_RecordedSessionInOneBuffer_YieldsEveryRxRecordHeaderForHeader(string session)
    {
        var frames = AmiFixtures.ParseAll(AmiFixtures.Rx(session), []);

        AmiFixtures.AssertSame(AmiFixtures.ExpectedFrames(session), frames, session);
    }

    [Theory]
    [MemberData(nameof(Sessions))]
    public void TryRead_RecordedSessionCutAtRandomPoints_YieldsSameMessages(string session)
    {
        var data = AmiFixtures.Rx(session);
        var expected = AmiFixtures.ExpectedFrames(session);
        Gen.Int[0, data.Length].Array[1, 40].Sample(
            cuts => AmiFixtures.AssertSame(expected, AmiFixtures.ParseAll(data, cuts), $"{session} cut at [{string.Join(',', cuts)}]"),
            iter: data.Length > 50_000 ? 12 : 60);
    }

    [Theory]
    [MemberData(nameof(SmallSessions))]
    public void TryRead_RecordedSessionOneByteAtATime_YieldsSameMessages(string session)
    {
        var data = AmiFixtures.Rx(session);
        var cuts = Enumerable.Range(1, data.Length - 1).ToArray();

        AmiFixtures.AssertSame(AmiFixtures.ExpectedFrames(session), AmiFixtures.ParseAll(data, cuts), session);
    }

    [Fact]
    public void TryRead_RepeatedHeaders_KeepsEveryValueInOrder()
    {
        var data = AmiFixtures.Rx("originate-agent");
        var varSets = AmiFixtures.ParseAll(data, []).Select(f => f.Message).OfType<AmiMessage>().ToList();
        var command = AmiFixtures.ParseAll(AmiFixtures.Rx("command"), []).Select(f => f.Message).OfType<AmiMessage>()
            .First(m => m.GetValues("Output").Count == 8);

        Assert.Equal("Channel                                                          Location                         State   Application(Data)             ", command.GetValues("output")[0]);
        Assert.Equal("3 calls processed", command.GetValues("OUTPUT")[^1]);
        Assert.NotEmpty(varSets);
    }

    [Fact]
    public void TryRead_CallerNameInCjkSplitInsideCharacter_DecodesWholeName()
    {
        var text = "Event: NewCallerid\r\nCallerIDName: 王小明 客户\r\nChannel: Local/1@inbound-00000000;1\r\n\r\n";
        var data = Encoding.UTF8.GetBytes(text);
        for (var cut = 1; cut < data.Length; cut++)
        {
            var frames = AmiFixtures.ParseAll(data, [cut]);
            var message = Assert.Single(frames).Message!;
            Assert.Equal("王小明 客户", message["calleridname"]);
        }

        Gen.Int[1, data.Length - 1].Array[1, 10].Sample(cuts =>
            Assert.Equal("王小明 客户", AmiFixtures.ParseAll(data, cuts)[0].Message!["CallerIDName"]));
    }

    [Fact]
    public void TryRead_OldCommandOutputFollows_ReturnsOutputHeadersUpToEndMarker()
    {
        var data = Encoding.UTF8.GetBytes(
            "Asterisk Call Manager/1.1\r\n" +
            "Response: Follows\r\nPrivilege: Command\r\nActionID: q-1\r\n" +
            "Name: support\r\n\r\n  Members: \r\nlast line--END COMMAND--\r\n\r\n" +
            "Response: Follows\r\nPrivilege: Command\r\nActionID: q-2\r\nNo such command\r\n--END COMMAND--\r\n\r\n" +
            "Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n");

        foreach (var cuts in new[] { Array.Empty<int>(), Enumerable.Range(1, data.Length - 1).ToArray() })
        {
            var frames = AmiFixtures.ParseAll(data, cuts);

            Assert.Equal(4, frames.Count);
            Assert.Equal("Asterisk Call Manager/1.1", frames[0].Banner);
            var first = frames[1].Message!;
            Assert.Equal("q-1", first.ActionId);
            Assert.Equal("Command", first["Privilege"]);
            Assert.Equal(["Name: support", "", "  Members: ", "last line"], first.GetValues("Output"));
            Assert.Equal(["No such command"], frames[2].Message!.GetValues("Output"));
            Assert.Equal("FullyBooted", frames[3].Message!.EventName);
        }
    }

    [Fact]
    public void TryRead_EmptyValueAndValueWithColons_KeepsExactText()
    {
        var frames = AmiFixtures.ParseAll(
            Encoding.UTF8.GetBytes("Event: VarSet\r\nValue: a: b:c\r\nOutput: \r\nExten:\r\nNoColonHere\r\n\r\n"), []);

        var message = Assert.Single(frames).Message!;
        Assert.Equal("a: b:c", message["Value"]);
        Assert.Equal("", message["Output"]);
        Assert.Equal("", message["Exten"]);
        Assert.Equal(new KeyValuePair<string, string>("", "NoColonHere"), message[4]);
    }

    [Fact]
    public void TryRead_GeneratedMessagesWholeOrCut_MatchTheirHeadersAndSurviveLaterMessages()
    {
        // Exercises the block scanner and the shared message arrays: lines shorter and much longer
        // than a 64-byte block, colons on both sides of a block edge, CRLF or bare LF, values with
        // colons and CJK text, messages above a slab's quarter (2 KiB) and above 64 KiB (32-bit
        // offsets). Every message is checked after all of them were parsed, so a later message
        // writing over an earlier one's bytes would show.
        var genKey = Gen.String[Gen.Char["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"], 1, 40];
        var genValue = Gen.OneOf(
            Gen.String[Gen.Char["abc:xyz 0123456789/.-;"], 0, 90],
            Gen.String[Gen.Char["王小明客户 :"], 0, 20],
            Gen.Int[60, 3000].Select(n => new string('v', n) + ":" + n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var genHeader = Gen.Select(genKey, genValue);
        var genMessage = Gen.Select(genHeader.Array[1, 30], Gen.Bool, Gen.Int[0, 30]);
        Gen.Select(genMessage.Array[1, 25], Gen.Int[0, 100_000].Array[0, 6], Gen.Bool).Sample((messages, cuts, huge) =>
        {
            var text = new StringBuilder("Asterisk Call Manager/11.0.0\r\n");
            var expected = new List<(string Key, string Value)[]>();
            foreach (var (headers, bareLineFeeds, padding) in messages)
            {
                var eol = bareLineFeeds ? "\n" : "\r\n";
                var all = headers.Prepend(("Event", "Generated" + new string('x', padding))).ToList();
                if (huge && expected.Count == 0)
                {
                    all.AddRange(Enumerable.Range(0, 40).Select(k => ("Huge" + k, new string('h', 2000))));
                }

                foreach (var (key, value) in all)
                {
                    text.Append(key).Append(": ").Append(value).Append(eol);
                }

                text.Append(eol);
                expected.Add([.. all]);
            }

            var data = Encoding.UTF8.GetBytes(text.ToString());
            var frames = AmiFixtures.ParseAll(data, [.. cuts.Select(c => c % (data.Length + 1))]);
            Assert.True(frames[0].IsBanner);
            Assert.Equal(expected.Count, frames.Count - 1);
            for (var i = 0; i < expected.Count; i++)
            {
                var message = frames[i + 1].Message!;
                Assert.Equal(expected[i].Length, message.Count);
                for (var h = 0; h < expected[i].Length; h++)
                {
                    Assert.Equal(new KeyValuePair<string, string>(expected[i][h].Key, expected[i][h].Value), message[h]);
                }

                Assert.Equal(expected[i][0].Value, message.EventName);
            }
        }, iter: 150);
    }

    [Fact]
    public void TryRead_MessagesFillingSeveralSharedSlabs_EachKeepsItsOwnBytes()
    {
        // Messages are stored back to back in 64 KiB shared arrays; this stream fills several of
        // them, with sizes around the limit for sharing (just under and just over it), so a
        // message that straddled a slab's end, or a new slab written over an old one, would show.
        // Every message is checked after all were parsed, whole and cut at random points.
        var random = new Random(4);
        var text = new StringBuilder("Asterisk Call Manager/11.0.0\r\n");
        var expected = new List<(string Seq, string Pad)>();
        var total = 0;
        for (var i = 0; total < 5 * AmiFrameParser.SlabSize; i++)
        {
            var padLength = i % 7 == 0
                ? AmiFrameParser.SharedSlabMessageLimit - 80 + random.Next(160)
                : random.Next(0, 600);
            var seq = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var pad = new string((char)('a' + (i % 26)), padLength);
            var message = $"Event: Slab\r\nSeq: {seq}\r\nPad: {pad}\r\nChannel: PJSIP/{seq}\r\n\r\n";
            text.Append(message);
            expected.Add((seq, pad));
            total += message.Length;
        }

        var data = Encoding.UTF8.GetBytes(text.ToString());
        foreach (var cuts in new[] { Array.Empty<int>(), [.. Enumerable.Range(0, 40).Select(_ => random.Next(data.Length))] })
        {
            var frames = AmiFixtures.ParseAll(data, cuts);
            Assert.Equal(expected.Count + 1, frames.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                var message = frames[i + 1].Message!;
                Assert.Equal(4, message.Count);
                Assert.Equal("Slab", message.EventName);
                Assert.Equal(expected[i].Seq, message["Seq"]);
                Assert.Equal(expected[i].Pad, message["Pad"]);
                Assert.Equal("PJSIP/" + expected[i].Seq, message["Channel"]);
            }
        }
    }

    [Fact]
    public void TryRead_BareLineFeedsAndStrayBlankLines_StillFramesMessages()
    {
        var frames = AmiFixtures.ParseAll(
            Encoding.UTF8.GetBytes("Asterisk Call Manager/11.0.0\n\r\n\r\nResponse: Success\nActionID: 1\n\nEvent: Hangup\r\nCause: 16\r\n\r\n"), []);

        Assert.Equal(3, frames.Count);
        Assert.Equal("1", frames[1].Message!.ActionId);
        Assert.Equal("16", frames[2].Message!["Cause"]);
    }

    [Fact]
    public void TryRead_LineLongerThanMaximumWithoutLineEnd_ThrowsProtocolErrorNamingTheLimit()
    {
        var parser = new AmiFrameParser(maxLineLength: 100);
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("Event: Big\r\nValue: " + new string('x', 200)));

        var error = Assert.Throws<AmiProtocolException>(() => parser.TryRead(ref buffer, out _));

        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("100 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_CompleteLineLongerThanMaximum_ThrowsProtocolError()
    {
        var data = Encoding.ASCII.GetBytes("Event: Big\r\nValue: " + new string('x', 200) + "\r\n\r\n");

        Assert.Throws<AmiProtocolException>(() => AmiFixtures.ParseAll(data, [], new AmiFrameParser(maxLineLength: 100)));
        Assert.Throws<AmiProtocolException>(() => AmiFixtures.ParseAll(data, [15, 60, 150], new AmiFrameParser(maxLineLength: 100)));
    }

    [Fact]
    public void TryRead_MessageLongerThanMaximum_ThrowsProtocolError()
    {
        var text = new StringBuilder("Response: Success\r\n");
        for (var i = 0; i < 100; i++)
        {
            text.Append("Output: ").Append(new string('y', 80)).Append("\r\n");
        }

        var data = Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());

        var error = Assert.Throws<AmiProtocolException>(() => AmiFixtures.ParseAll(data, [], new AmiFrameParser(100, 4096)));
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_RandomBytes_NeverCrashesOrHangs()
    {
        // Bytes biased towards the framing characters so that lines, blank lines and colons occur often.
        var alphabet = "\r\n: A\u00e9-".Select(c => (byte)c).Concat(new byte[] { 0xE7, 0x8E, 0x8B, 0x00, 0xFF }).ToArray();
        var genByte = Gen.Frequency((6, Gen.Int[0, alphabet.Length - 1].Select(i => alphabet[i])), (1, Gen.Byte));
        Gen.Select(genByte.Array[0, 3000], Gen.Int[0, 3000].Array[0, 20]).Sample((data, cuts) =>
        {
            var parser = new AmiFrameParser(maxLineLength: 256, maxMessageLength: 2048);
            try
            {
                var frames = AmiFixtures.ParseAll(data, cuts, parser);
                Assert.All(frames, f => Assert.True(f.IsBanner || f.Message!.Count > 0));
            }
            catch (AmiProtocolException)
            {
                // A clean protocol error is an acceptable outcome for garbage.
            }
        }, iter: 400);
    }

    [Theory]
    [MemberData(nameof(SmallSessions))]
    public void TryRead_MutatedRecordedSession_FramesOrRefusesCleanly_MessagesBeforeTheFirstChangedByteKept(string session)
    {
        var data = AmiFixtures.Rx(session);
        var expected = AmiFixtures.ExpectedFrames(session);
        // Where each recorded frame ends on the wire, to know which frames a mutation cannot have touched.
        var ends = new List<int>();
        foreach (var record in AmiFixtures.Timeline(session).Where(r => r.Dir == "rx"))
        {
            ends.Add((ends.Count == 0 ? 0 : ends[^1]) + Encoding.UTF8.GetByteCount(record.Data));
        }

        Assert.Equal(data.Length, ends[^1]);
        // Mutations biased towards AMI's framing bytes, NUL and invalid UTF-8: replace a byte, insert a run,
        // delete a range, or repeat a range (a message or part of one sent twice).
        byte[] framing = [(byte)'\r', (byte)'\n', (byte)':', (byte)' ', 0x00, 0xFF, 0xC3, 0x28];
        var genByte = Gen.Frequency((3, Gen.Int[0, framing.Length - 1].Select(i => framing[i])), (1, Gen.Byte));
        var genMutation = Gen.Select(Gen.Int[0, 3], Gen.Int[0, data.Length - 1], Gen.Int[1, 64], genByte);
        Gen.Select(genMutation.Array[1, 4], Gen.Int[0, data.Length].Array[0, 8]).Sample((mutations, cuts) =>
        {
            var (mutated, firstChanged) = Mutate(data, mutations);
            var frames = new List<AmiFrame>();
            try
            {
                AmiFixtures.ParseInto(mutated, [.. cuts.Where(c => c < mutated.Length)], new AmiFrameParser(maxLineLength: 1024, maxMessageLength: 16 * 1024), frames);
            }
            catch (AmiProtocolException)
            {
                // A clean protocol error is an acceptable outcome for damaged bytes; what came before it is checked below.
            }

            Assert.All(frames, f => Assert.True(f.IsBanner || f.Message!.Count > 0, "an empty message was framed"));
            var untouched = ends.TakeWhile(end => end <= firstChanged).Count();
            Assert.True(frames.Count >= untouched, $"{session}: {frames.Count} frames read, but the first {untouched} were not touched by the mutation at byte {firstChanged}");
            AmiFixtures.AssertSame([.. expected.Take(untouched)], [.. frames.Take(untouched)], $"{session} mutated from byte {firstChanged}");
        }, iter: 150);
    }

    /// <summary>Applies the mutations from the last position to the first, so each position is in the original bytes; returns the first byte changed.</summary>
    private static (byte[] Bytes, int FirstChanged) Mutate(byte[] data, (int Kind, int Position, int Length, byte Value)[] mutations)
    {
        var bytes = new List<byte>(data);
        foreach (var (kind, position, length, value) in mutations.OrderByDescending(m => m.Position))
        {
            if (position > bytes.Count || (kind != 1 && position == bytes.Count))
            {
                continue; // a range already deleted to the end by a mutation at the same position
            }

            var count = Math.Min(length, bytes.Count - position);
            switch (kind)
            {
                case 0:
                    bytes[position] = (byte)(bytes[position] ^ (value == 0 ? 1 : value));
                    break;
                case 1:
                    bytes.InsertRange(position, Enumerable.Repeat(value, length));
                    break;
                case 2:
                    bytes.RemoveRange(position, count);
                    break;
                default:
                    bytes.InsertRange(position, bytes.GetRange(position, count));
                    break;
            }
        }

        return ([.. bytes], mutations.Min(m => m.Position));
    }

    [Fact]
    public void TryRead_TruncatedRecordedSession_ReturnsCompleteMessagesAndKeepsTheRest()
    {
        var data = AmiFixtures.Rx("queue-status");
        var expected = AmiFixtures.ExpectedFrames("queue-status");
        Gen.Int[0, data.Length].Sample(length =>
        {
            var parser = new AmiFrameParser();
            var buffer = new ReadOnlySequence<byte>(data, 0, length);
            var count = 0;
            while (parser.TryRead(ref buffer, out _))
            {
                count++;
            }

            var complete = expected.TakeWhile((_, i) => Encoding.UTF8.GetByteCount(string.Concat(AmiFixtures.Timeline("queue-status").Where(r => r.Dir == "rx").Take(i + 1).Select(r => r.Data))) <= length).Count();
            Assert.Equal(complete, count);
        }, iter: 40);
    }
}
