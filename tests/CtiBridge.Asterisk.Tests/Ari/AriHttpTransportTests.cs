using System.Net;
using System.Net.Sockets;
using System.Text;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// The REST client's own HTTP/1.1 transport (<see cref="AriRestTransport.Sockets"/>, the default) on the
/// wire cases the recorded Asterisk exchanges do not show: keep-alive reuse, the connection bound, a
/// kept-alive connection the server has closed, chunked and close-delimited bodies, an interim
/// 100 answer, and broken answers (not HTTP, a body cut short) giving clear connection errors.
/// The recorded exchanges themselves run through both transports in <see cref="AriRestReplayTests"/>.
/// </summary>
public sealed class AriHttpTransportTests
{
    private const string Channel = """{"id":"cust-1","name":"PJSIP/1000-00000001","state":"Up","protocol_id":"","caller":{"name":"","number":"1000"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-22T16:41:33.000+0000","language":"en"}""";

    private static AriClient Client(LoopbackHttpServer server, int maxConnections = 32, TimeProvider? clock = null, TimeSpan? requestTimeout = null) => new(new AriClientOptions
    {
        BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/ari"),
        UserName = "ctibridge",
        Password = "ctibridge-secret",
        MaxConnections = maxConnections,
        RequestTimeout = requestTimeout ?? new AriClientOptions().RequestTimeout,
    }, timeProvider: clock);

    /// <summary>A scripted Asterisk that answers each request as <paramref name="respond"/> says (given the connection's number and the request).</summary>
    private static LoopbackHttpServer Serve(Func<int, ReceivedRequest, Task<ServerReply>> respond) =>
        new(async (connection, requests) => await respond(connection, requests[^1]));

    /// <summary>A server answering every request with <see cref="Channel"/>, those whose path contains <paramref name="path"/> only once <paramref name="release"/> completes.</summary>
    private static LoopbackHttpServer HoldingRequestsTo(string path, Task release) => Serve(async (_, request) =>
    {
        if (request.Line.Contains(path, StringComparison.Ordinal))
        {
            await release;
        }

        return new ServerReply(Answer(Channel));
    });

    private static byte[] Answer(string body, string status = "200 OK") =>
        Encoding.UTF8.GetBytes($"HTTP/1.1 {status}\r\nServer: Asterisk/22.10.1\r\nContent-type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    [Fact]
    public async Task CallsInARow_ShareOneKeptAliveConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(Answer(Channel))));
        using var client = Client(server);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);
        }

        Assert.Equal(1, server.Accepted);
        Assert.Equal(20, server.Requests.Count);
        var request = server.Requests.First();
        Assert.Equal("GET /ari/channels/cust-1 HTTP/1.1", request.Line);
        Assert.Equal($"127.0.0.1:{server.Port}", request.Headers["Host"]);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ctibridge:ctibridge-secret")), request.Headers["Authorization"]);
    }

    [Fact]
    public async Task MoreCallsThanMaxConnections_WaitForAConnection_AndAllSucceed()
    {
        var ct = TestContext.Current.CancellationToken;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = Serve(async (_, _) =>
        {
            await gate.Task;
            return new ServerReply(Answer(Channel));
        });
        using var client = Client(server, maxConnections: 2);

        var calls = Enumerable.Range(0, 10).Select(_ => client.Channels.GetAsync("cust-1", ct)).ToList();
        await Eventually.TrueAsync(() => server.Requests.Count == 2, "two requests held by the server", ct);
        gate.SetResult();
        var channels = await Task.WhenAll(calls);

        Assert.All(channels, c => Assert.Equal("cust-1", c.Id));
        Assert.Equal(2, server.Accepted);
        Assert.Equal(10, server.Requests.Count);
    }

    [Fact]
    public async Task ManyWaitingCallsOnOneConnection_AreEachSentOnce_InTurn_AndAnswered()
    {
        // A waiting call's request is sent on the connection the call before it frees, and its
        // answer completes it where it is read: a long chain of such hand-overs must send every
        // request exactly once, on the one connection, and answer each caller with its own answer.
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, request) =>
        {
            var id = request.Line.Split(' ')[1]["/ari/channels/".Length..];
            return Task.FromResult(new ServerReply(Answer(Channel.Replace("\"cust-1\"", $"\"{id}\"", StringComparison.Ordinal))));
        });
        using var client = Client(server, maxConnections: 1);

        var ids = Enumerable.Range(0, 300).Select(i => "c" + i).ToList();
        var channels = await Task.WhenAll(ids.Select(id => client.Channels.GetAsync(id, ct)));

        Assert.Equal(ids, channels.Select(c => c.Id));
        Assert.Equal(1, server.Accepted);
        Assert.Equal(300, server.Requests.Count);
        Assert.Equal(ids.Order(StringComparer.Ordinal), server.Requests.Select(r => r.Line.Split(' ')[1]["/ari/channels/".Length..]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WaitingCallCancelledByItsCaller_IsNeverSent_AndTheNextWaiterGetsTheConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = HoldingRequestsTo("/held", gate.Task);
        using var client = Client(server, maxConnections: 1);

        var held = client.Channels.GetAsync("held", ct);
        await Eventually.TrueAsync(() => server.Requests.Count == 1, "the first request held by the server", ct);
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var cancelled = client.Channels.GetAsync("cancelled", giveUp.Token);
        var next = client.Channels.GetAsync("next", ct);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        gate.SetResult();

        Assert.Equal("cust-1", (await held).Id);
        Assert.Equal("cust-1", (await next).Id);
        Assert.Equal("cust-1", (await client.Channels.GetAsync("after", ct)).Id);
        Assert.Equal(["GET /ari/channels/held HTTP/1.1", "GET /ari/channels/next HTTP/1.1", "GET /ari/channels/after HTTP/1.1"], server.Requests.Select(r => r.Line));
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task HolderOfTheOnlyConnectionTimesOut_TheWaitingCallGetsItsSlot_AndIsAnswered()
    {
        var ct = TestContext.Current.CancellationToken;
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = HoldingRequestsTo("/held", never.Task);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var client = Client(server, maxConnections: 1, clock, requestTimeout: TimeSpan.FromSeconds(5));

        var held = client.Channels.GetAsync("held", ct);
        await Eventually.TrueAsync(() => server.Requests.Count == 1, "the first request held by the server", ct);
        clock.Advance(TimeSpan.FromSeconds(1));
        var waiting = client.Channels.GetAsync("waiting", ct);
        clock.Advance(TimeSpan.FromSeconds(4));

        await Assert.ThrowsAsync<AriTimeoutException>(() => held);
        Assert.Equal("cust-1", (await waiting).Id);
        Assert.Equal(2, server.Accepted);
        never.SetResult();
    }

    [Fact]
    public async Task TimeoutAfterManyCallsEndedInTime_StillFiresOnTheClientsClock()
    {
        // Each call's timeout source is reused once the call has ended in time: a reused one must
        // still run on the client's TimeProvider, and start counting when its new call starts.
        var ct = TestContext.Current.CancellationToken;
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = HoldingRequestsTo("/hangs", never.Task);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var client = Client(server, clock: clock, requestTimeout: TimeSpan.FromSeconds(5));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);
            clock.Advance(TimeSpan.FromSeconds(4));
        }

        var hangs = client.Channels.GetAsync("hangs", ct);
        await Eventually.TrueAsync(() => server.Requests.Count == 11, "the hanging request at the server", ct);
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(hangs.IsCompleted, "timed out before its 5 s: a reused source kept an earlier call's start");
        clock.Advance(TimeSpan.FromSeconds(0.1));

        var error = await Assert.ThrowsAsync<AriTimeoutException>(() => hangs);
        Assert.Equal("/channels/hangs", error.Path);
        never.SetResult();
    }

    [Fact]
    public async Task ConnectionsClosedAfterEachAnswer_PassTheirSlotToWaitingCalls()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(
            Encoding.UTF8.GetBytes($"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {Channel.Length}\r\n\r\n{Channel}"), Close: true)));
        using var client = Client(server, maxConnections: 2);

        var channels = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => client.Channels.GetAsync("c" + i, ct)));

        Assert.All(channels, c => Assert.Equal("cust-1", c.Id));
        Assert.Equal(12, server.Accepted);
        Assert.Equal(12, server.Requests.Count);
    }

    [Fact]
    public async Task KeptAliveConnectionClosedByTheServer_TheNextCallGoesOutOnANewConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        // Like Asterisk's session_inactivity: the server closes the connection after its answer
        // without saying so in a Connection header.
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(Answer(Channel), Close: true)));
        using var client = Client(server);

        Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);
        Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);

        Assert.Equal(2, server.Accepted);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task NewConnectionClosedWithoutAnAnswer_IsAConnectionError_NotSentTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply([], Close: true)));
        using var client = Client(server);

        var error = await Assert.ThrowsAsync<AriConnectionException>(() => client.Channels.AnswerAsync("cust-1", ct));

        Assert.Equal("/channels/cust-1/answer", error.Path);
        Assert.Contains("closed the connection without answering, on a new connection", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    // Asterisk's http.c, beyond http.conf's sessionlimit: the new session is accepted and closed at
    // once, before its request is read (so the request may meet a reset instead of an end of stream).
    // Whichever the kernel gives, the error names the likely cause and the client's connection bound.
    [Fact]
    public async Task NewConnectionClosedUnread_AsAsteriskBeyondItsSessionLimit_NamesTheSessionLimit_NotSentTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(8);
        var accepted = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var refuse = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var session = await listener.AcceptSocketAsync(stop.Token);
                    Interlocked.Increment(ref accepted);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }, ct);
        using var client = new AriClient(new AriClientOptions
        {
            BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/ari"),
            UserName = "ctibridge",
            Password = "ctibridge-secret",
            MaxConnections = 3,
        });

        var error = await Assert.ThrowsAsync<AriConnectionException>(() => client.Channels.AnswerAsync("cust-1", ct));

        Assert.Contains("on a new connection: Asterisk does that while it stops, and to every session beyond its http.conf sessionlimit", error.Message, StringComparison.Ordinal);
        Assert.Contains("this client opens up to 3, ari.maxConnections", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref accepted));
        await stop.CancelAsync();
        await refuse;
    }

    [Fact]
    public async Task ChunkedAnswer_WithExtensionAndTrailer_IsJoined_AndTheConnectionKept()
    {
        var ct = TestContext.Current.CancellationToken;
        var chunked = new StringBuilder("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        var parts = new[] { Channel[..10], Channel[10..200], Channel[200..] };
        foreach (var part in parts)
        {
            chunked.Append($"{Encoding.UTF8.GetByteCount(part):x};name=value\r\n{part}\r\n");
        }

        chunked.Append("0\r\nX-Trailer: yes\r\n\r\n");
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(Encoding.UTF8.GetBytes(chunked.ToString()))));
        using var client = Client(server);

        var first = await client.Channels.GetAsync("cust-1", ct);
        var second = await client.Channels.GetAsync("cust-1", ct);

        Assert.Equal("cust-1", first.Id);
        Assert.Equal("PJSIP/1000-00000001", second.Name);
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task AnswerWithoutLength_EndsWithTheConnection_AndTheNextCallOpensANewOne()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(
            Encoding.UTF8.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + Channel), Close: true)));
        using var client = Client(server);

        Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);
        Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);

        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task InterimContinueAnswer_IsSkipped()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(
            [.. "HTTP/1.1 100 Continue\r\n\r\n"u8, .. Answer(Channel)])));
        using var client = Client(server);

        Assert.Equal("cust-1", (await client.Channels.GetAsync("cust-1", ct)).Id);
    }

    [Fact]
    public async Task ErrorAnswer_KeepsStatusReasonAndAsteriskMessage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(Answer("""{"message":"Channel not found"}""", "404 Not Found"))));
        using var client = Client(server);

        var error = await Assert.ThrowsAsync<AriRequestException>(() => client.Channels.GetAsync("gone", ct));

        Assert.Equal(404, error.StatusCode);
        Assert.Equal("Not Found", error.ReasonPhrase);
        Assert.Equal("Channel not found", error.AsteriskMessage);
    }

    [Fact]
    public async Task NotHttp_GivesAConnectionErrorQuotingWhatCame()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply("SSH-2.0-OpenSSH_9.6\r\n\r\n"u8.ToArray(), Close: true)));
        using var client = Client(server);

        var error = await Assert.ThrowsAsync<AriConnectionException>(() => client.Asterisk.PingAsync(ct));

        Assert.Contains("HTTP/1.x status line", error.Message, StringComparison.Ordinal);
        Assert.Contains("SSH-2.0-OpenSSH_9.6", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyCutShort_GivesAConnectionErrorWithTheByteCounts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(
            Encoding.UTF8.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":\"x\"}"), Close: true)));
        using var client = Client(server);

        var error = await Assert.ThrowsAsync<AriConnectionException>(() => client.Channels.GetAsync("x", ct));

        Assert.Contains("after 10 of the 100 body bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawPathWithSpaceAndNonAscii_IsPercentEncodedOnTheWire()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = Serve((_, _) => Task.FromResult(new ServerReply(Answer("", "204 No Content"))));
        using var client = Client(server);

        await client.SendRawAsync("DELETE", "/channels/a b\u00e9", "reason=normal", null, ct);

        Assert.Equal("DELETE /ari/channels/a%20b%C3%A9?reason=normal HTTP/1.1", Assert.Single(server.Requests).Line);
    }
}
