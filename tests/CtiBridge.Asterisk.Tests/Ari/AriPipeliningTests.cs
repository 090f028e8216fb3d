using System.Text;
using CtiBridge.Asterisk.Ari;
using CtiBridge.PbxSim;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// HTTP/1.1 pipelining in the own REST transport (<see cref="AriClientOptions.MaxPipelineDepth"/> &gt; 1):
/// answers matched to their requests by order, an error answer in the middle, a call timing out with
/// answers still to come behind it, and the server closing the connection under several requests
/// (with and without saying so). The server here only answers once it has read several requests from
/// one connection, so these tests fail if the requests are not really written before the answers.
/// </summary>
public sealed class AriPipeliningTests
{
    private static AriClient Client(int port, int depth = 8, int maxConnections = 1, TimeProvider? clock = null, TimeSpan? requestTimeout = null) => new(new AriClientOptions
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}/ari"),
        UserName = "ctibridge",
        Password = "ctibridge-secret",
        MaxConnections = maxConnections,
        MaxPipelineDepth = depth,
        RequestTimeout = requestTimeout ?? new AriClientOptions().RequestTimeout,
    }, timeProvider: clock);

    private static string ChannelJson(string id) =>
        $$"""{"id":"{{id}}","name":"Local/{{id}}-00000001;1","state":"Up","protocol_id":"","caller":{"name":"","number":"1000"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-22T16:41:33.000+0000","language":"en"}""";

    private static byte[] Answer(string body, string status = "200 OK", string extraHeaders = "") =>
        Encoding.UTF8.GetBytes($"HTTP/1.1 {status}\r\nServer: Asterisk/22.10.1\r\nDate: Sun, 22 Nov 2026 16:41:30 GMT\r\nCache-Control: no-cache, no-store\r\n{extraHeaders}Content-type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    private static byte[] NoContent() =>
        Encoding.ASCII.GetBytes("HTTP/1.1 204 No Content\r\nServer: Asterisk/22.10.1\r\nDate: Sun, 22 Nov 2026 16:41:30 GMT\r\nCache-Control: no-cache, no-store\r\nContent-Length: 0\r\n\r\n");

    /// <summary>The answer to a request line as the tests' Asterisk gives it: a channel named by the path's last segment, 204 for POSTs.</summary>
    private static byte[] AnswerTo(string line)
    {
        var path = line.Split(' ')[1];
        if (line.StartsWith("POST ", StringComparison.Ordinal))
        {
            return NoContent();
        }

        var id = path[(path.LastIndexOf('/') + 1)..];
        return id.StartsWith("missing", StringComparison.Ordinal)
            ? Answer("""{"message":"Channel not found"}""", "404 Not Found")
            : Answer(ChannelJson(id));
    }

    [Fact]
    public async Task EightCallsOnOneConnection_AnsweredInOneSend_EachGetsItsOwnAnswer()
    {
        var ct = TestContext.Current.CancellationToken;
        // Answers only once all eight requests are in, then all of them in one write.
        await using var server = Serve((connection, lines) =>
            Now(lines.Count < 8 ? null : new ServerReply([.. lines.SelectMany(AnswerTo)])));
        using var client = Client(server.Port);

        var ids = Enumerable.Range(1, 8).Select(i => $"cust-{i}-{new string('x', i * 37)}").ToList();
        var calls = ids.Select(id => client.Channels.GetAsync(id, ct)).ToList();
        var channels = await Task.WhenAll(calls);

        Assert.Equal(ids, channels.Select(c => c.Id));
        Assert.Equal(1, server.Accepted);
        Assert.Equal(ids.Select(id => $"GET /ari/channels/{id} HTTP/1.1"), server.Lines(1));
    }

    [Fact]
    public async Task ErrorAnswerInTheMiddle_IsThatCallsError_AndTheCallsAroundItGetTheirAnswers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((connection, lines) =>
            Now(lines.Count < 5 ? null : new ServerReply([.. lines.SelectMany(AnswerTo)])));
        using var client = Client(server.Port);

        var first = client.Channels.GetAsync("cust-1", ct);
        var answer = client.Channels.AnswerAsync("cust-2", ct);
        var missing = client.Channels.GetAsync("missing-3", ct);
        var fourth = client.Channels.GetAsync("cust-4", ct);
        var fifth = client.Channels.GetAsync("cust-5", ct);

        Assert.Equal("cust-1", (await first).Id);
        await answer;
        var error = await Assert.ThrowsAsync<AriRequestException>(() => missing);
        Assert.Equal(404, error.StatusCode);
        Assert.Equal("Channel not found", error.AsteriskMessage);
        Assert.Equal("/channels/missing-3", error.Path);
        Assert.Equal("cust-4", (await fourth).Id);
        Assert.Equal("cust-5", (await fifth).Id);
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task CallTimingOutMidPipeline_FailsAlone_TheCallsBehindItGetTheirOwnAnswers_AndNewCallsUseANewConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = Serve(async (connection, lines) =>
        {
            if (connection > 1)
            {
                return new ServerReply(AnswerTo(lines[^1]));
            }

            if (lines.Count < 3)
            {
                return null;
            }

            // All three answers, the timed-out call's first, only after it timed out.
            await release.Task;
            return new ServerReply([.. lines.SelectMany(AnswerTo)]);
        });
        var clock = new FakeTimeProvider();
        using var client = Client(server.Port, clock: clock, requestTimeout: TimeSpan.FromSeconds(5));

        var early = client.Channels.GetAsync("early", ct);
        clock.Advance(TimeSpan.FromSeconds(3));
        var second = client.Channels.GetAsync("second", ct);
        var third = client.Channels.GetAsync("third", ct);
        await Eventually.TrueAsync(() => server.Lines(1).Count == 3, "three requests on the first connection", ct);
        clock.Advance(TimeSpan.FromSeconds(2));

        var timeout = await Assert.ThrowsAsync<AriTimeoutException>(() => early);
        Assert.Equal("/channels/early", timeout.Path);
        Assert.False(second.IsCompleted);
        release.SetResult();
        Assert.Equal("second", (await second).Id);
        Assert.Equal("third", (await third).Id);

        // The connection that had a call time out takes no new request.
        Assert.Equal("later", (await client.Channels.GetAsync("later", ct)).Id);
        Assert.Equal(2, server.Accepted);
        Assert.Equal(["GET /ari/channels/later HTTP/1.1"], server.Lines(2));
    }

    [Fact]
    public async Task CallCancelledWithNothingBehindIt_ItsConnectionIsClosed_AndTheNextCallOpensANewOne()
    {
        var ct = TestContext.Current.CancellationToken;
        // The first connection never answers (it waits for a second request that never comes).
        await using var server = Serve((connection, lines) =>
            Now(connection > 1 ? new ServerReply(AnswerTo(lines[^1])) : null));
        using var client = Client(server.Port);
        using var cancel = new CancellationTokenSource();

        var cancelled = client.Channels.GetAsync("cancelled", cancel.Token);
        await Eventually.TrueAsync(() => server.Lines(1).Count == 1, "the first request at the server", ct);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        // Its answer could still come, so the connection takes no new request; with nothing else in
        // flight on it, it is closed and its slot (the only one) goes to the next call.
        Assert.Equal("next", (await client.Channels.GetAsync("next", ct)).Id);
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task ServerClosesMidPipelineWithoutSaying_GetsAreSentAgain_PostsFailAsMaybeCarriedOut()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((connection, lines) => Now(
            connection > 1 ? new ServerReply(AnswerTo(lines[^1]))
            : lines.Count < 4 ? null
            // The first answer, then the connection ends (as a crash or a reset would end it).
            : new ServerReply(AnswerTo(lines[0]), Close: true)));
        using var client = Client(server.Port);

        var first = client.Channels.GetAsync("cust-1", ct);
        var answer = client.Channels.AnswerAsync("cust-2", ct);
        var get = client.Channels.GetAsync("cust-3", ct);
        var ring = client.Channels.RingAsync("cust-4", ct);

        Assert.Equal("cust-1", (await first).Id);
        var error = await Assert.ThrowsAsync<AriConnectionException>(() => answer);
        Assert.Equal("/channels/cust-2/answer", error.Path);
        Assert.Contains("may or may not have been carried out", error.Message, StringComparison.Ordinal);
        Assert.Equal("cust-3", (await get).Id);
        var ringError = await Assert.ThrowsAsync<AriConnectionException>(() => ring);
        Assert.Equal("/channels/cust-4/ring", ringError.Path);

        // Only the GET went out again, once.
        Assert.Equal(["GET /ari/channels/cust-3 HTTP/1.1"], server.Lines(2));
    }

    [Fact]
    public async Task AnswerSayingConnectionClose_TheRequestsBehindItWereNeverRead_AndAreAllSentAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        // As Asterisk's ast_http_send does when the close flag is set: the answer says close, and the
        // session ends without reading what follows.
        await using var server = Serve((connection, lines) => Now(
            connection > 1 ? new ServerReply(AnswerTo(lines[^1]))
            : lines.Count < 3 ? null
            : new ServerReply(Answer("""{"message":"Request body too large"}""", "413 Request Entity Too Large", "Connection: close\r\n"), Close: true)));
        using var client = Client(server.Port);

        var tooLarge = client.Channels.GetAsync("cust-1", ct);
        var answer = client.Channels.AnswerAsync("cust-2", ct);
        var get = client.Channels.GetAsync("cust-3", ct);

        Assert.Equal(413, (await Assert.ThrowsAsync<AriRequestException>(() => tooLarge)).StatusCode);
        await answer;
        Assert.Equal("cust-3", (await get).Id);
        Assert.Equal(["POST /ari/channels/cust-2/answer HTTP/1.1", "GET /ari/channels/cust-3 HTTP/1.1"], server.Lines(2));
    }

    [Fact]
    [Trait("Tier", "PbxSim")]
    public async Task PbxSim_ServesPipelinedRequestsInOrder_ErrorsIncluded()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        using var client = Client(sim.AriEndPoint.Port, depth: 16);

        // Written back to back on one connection: each read sees the write just before it only if
        // PbxSim serves the requests one after the other in the order they came.
        var calls = new List<Task<string>>();
        for (var round = 0; round < 5; round++)
        {
            var value = round.ToString(System.Globalization.CultureInfo.InvariantCulture);
            calls.Add(Done(client.Asterisk.SetGlobalVarAsync("PIPE", value, ct)));
            calls.Add(Value(client.Asterisk.GetGlobalVarAsync("PIPE", ct)));
            calls.Add(Missing(client.Channels.GetAsync("no-such-channel", ct)));
            calls.Add(Value(client.Asterisk.GetGlobalVarAsync("PIPE", ct)));
        }

        var results = await Task.WhenAll(calls);

        for (var round = 0; round < 5; round++)
        {
            var value = round.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(["set", value, "404", value], results.Skip(round * 4).Take(4));
        }

        static async Task<string> Done(Task call)
        {
            await call;
            return "set";
        }

        static async Task<string> Value(Task<CtiBridge.Asterisk.Ari.Models.Variable> call) => (await call).Value;

        static async Task<string> Missing(Task<CtiBridge.Asterisk.Ari.Models.Channel> call)
        {
            var error = await Assert.ThrowsAsync<AriRequestException>(() => call);
            return error.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private static Task<ServerReply?> Now(ServerReply? reply) => Task.FromResult(reply);

    /// <summary>A scripted Asterisk that, after each request, is told the connection's number and the request lines read on it so far.</summary>
    private static LoopbackHttpServer Serve(Func<int, IReadOnlyList<string>, Task<ServerReply?>> script) =>
        new((connection, requests) => script(connection, [.. requests.Select(r => r.Line)]));
}
