using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// A loopback server replays every recorded REST exchange; the client makes the same call through its typed
/// API, and the request it sends must match the recorded one (method, path, query, body, auth header) while
/// the recorded response must parse into the model (or the typed error) with nothing lost. Every exchange
/// runs through both REST transports: the client's own HTTP/1.1 (the default) and HttpClient (the fallback).
/// </summary>
public sealed class AriRestReplayTests
{
    private static readonly List<(AriOperationAttribute Operation, MethodInfo Method, Regex Pattern, int Literal)> Operations =
        typeof(AriClient).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Operation: m.GetCustomAttribute<AriOperationAttribute>()!, Method: m))
            .Where(x => x.Operation is not null)
            .Select(x => (x.Operation, x.Method,
                new Regex("^" + Regex.Replace(x.Operation.Path, @"\{\w+\}", "([^/]+)") + "$"),
                Regex.Replace(x.Operation.Path, @"\{\w+\}", "").Length))
            .ToList();

    public static TheoryData<string, AriRestTransport> Exchanges()
    {
        var data = new TheoryData<string, AriRestTransport>();
        foreach (var exchange in AriFixtures.RestExchanges())
        {
            foreach (var transport in Enum.GetValues<AriRestTransport>())
            {
                data.Add(exchange.Label, transport);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Exchanges))]
    public async Task TypedCall_RecordedExchange_SendsTheRecordedRequestAndParsesTheResponse(string label, AriRestTransport transport)
    {
        var ct = TestContext.Current.CancellationToken;
        var exchange = AriFixtures.RestExchanges().Single(e => e.Label == label);
        await using var server = new LoopbackHttpServer(_ => Task.FromResult(exchange.Response));
        var (user, password) = Credentials(exchange);
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = user, Password = password, RestTransport = transport });

        var path = exchange.Path["/ari".Length..];
        var call = Plan(client, exchange, path);
        object? result = null;
        Exception? error = null;
        try
        {
            var task = (Task)call.Invoke();
            await task;
            result = task.GetType().GetProperty("Result")?.GetValue(task);
            if (result?.GetType().Name == "VoidTaskResult")
            {
                result = null;
            }
        }
        catch (Exception e)
        {
            error = e;
        }

        var sent = Assert.Single(server.Requests);
        Assert.Equal(exchange.Method, sent.Method);
        Assert.Equal(Segments(exchange.Path), Segments(sent.Path));
        Assert.Equal(QueryPairs(exchange.Query), QueryPairs(sent.Query));
        if (exchange.Body.Length > 0 && call.Typed)
        {
            JsonAssert.Equivalent(exchange.Body, sent.Body, label + " body");
        }
        else
        {
            Assert.Equal(exchange.Body, sent.Body);
        }

        if (exchange.Headers.TryGetValue("Authorization", out var recordedAuth))
        {
            Assert.Equal(recordedAuth, sent.Headers["Authorization"]);
        }

        Assert.DoesNotContain(password, sent.Target, StringComparison.Ordinal);

        if (exchange.Status is >= 200 and < 300)
        {
            Assert.Null(error);
            if (exchange.ResponseBody.Length > 0 && call.ResultType is { } resultType)
            {
                Assert.NotNull(result);
                JsonAssert.Equivalent(exchange.ResponseBody, JsonSerializer.Serialize(result, resultType, AriJsonContext.Default), label + " response");
                Assert.Empty(AriEventDecodingTests.UnknownFields(result, "$"));
            }
        }
        else
        {
            var failure = Assert.IsType<AriRequestException>(error);
            Assert.Equal(exchange.Status, failure.StatusCode);
            Assert.Equal(exchange.Method, failure.Method);
            Assert.Equal(Segments(exchange.Path[4..]), Segments(failure.Path!));
            using var body = JsonDocument.Parse(exchange.ResponseBody);
            var expectedMessage = body.RootElement.TryGetProperty("message", out var m) ? m.GetString() : body.RootElement.GetProperty("error").GetString();
            Assert.Equal(expectedMessage, failure.AsteriskMessage);
            Assert.Contains(expectedMessage!, failure.Message, StringComparison.Ordinal);
            Assert.Contains(failure.Path!, failure.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OriginateAsync_InboundCustomer_SendsQueryAndVariablesBodyLikeTheRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        var exchange = AriFixtures.RestExchanges().Single(e => e.Label == "inbound-call/originate-customer");
        await using var server = new LoopbackHttpServer(_ => Task.FromResult(exchange.Response));
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "ctibridge", Password = "ctibridge-secret" });

        var channel = await client.Channels.OriginateAsync(
            endpoint: "Local/1000@callers-ringing",
            context: "customer",
            extension: "dtmf",
            priority: 1,
            callerId: "\"Jane Customer\" <5551234567>",
            timeout: 30,
            channelId: "cust-0001",
            otherChannelId: "cust-0001-2",
            variables: new Dictionary<string, string> { ["CTI_CALL_ID"] = "ari-0001" },
            cancellationToken: ct);

        Assert.Equal("cust-0001", channel.Id);
        var sent = Assert.Single(server.Requests);
        Assert.Equal(QueryPairs(exchange.Query), QueryPairs(sent.Query));
        JsonAssert.Equivalent("""{"variables":{"CTI_CALL_ID":"ari-0001"}}""", sent.Body, "originate body");
        Assert.Equal("application/json", sent.Headers["Content-Type"]);
    }

    [Fact]
    public async Task HangupAsync_WithReason_SendsReasonAndReturnsOn204()
    {
        var exchange = AriFixtures.RestExchanges().Single(e => e.Label == "inbound-call/hangup-agent");
        await using var server = new LoopbackHttpServer(_ => Task.FromResult(exchange.Response));
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "ctibridge", Password = "ctibridge-secret" });

        await client.Channels.HangupAsync("agent-0001", reason: "normal", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("/ari/channels/agent-0001?reason=normal", Assert.Single(server.Requests).Target);
    }

    [Theory]
    [InlineData(AriRestTransport.Sockets)]
    [InlineData(AriRestTransport.HttpClient)]
    public async Task AnyCall_ServerNeverAnswers_ThrowsAriTimeoutWithinRequestTimeout(AriRestTransport transport)
    {
        var never = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new LoopbackHttpServer(_ => never.Task);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "u", Password = "p", RequestTimeout = TimeSpan.FromSeconds(5), RestTransport = transport }, timeProvider: clock);

        var call = client.Channels.AnswerAsync("cust-1", TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => !server.Requests.IsEmpty, "the request to reach the server", TestContext.Current.CancellationToken);

        clock.Advance(TimeSpan.FromSeconds(5));
        var error = await Assert.ThrowsAsync<AriTimeoutException>(() => call);
        Assert.Equal("POST", error.Method);
        Assert.Equal("/channels/cust-1/answer", error.Path);
        never.SetResult([]);
    }

    [Theory]
    [InlineData(AriRestTransport.Sockets)]
    [InlineData(AriRestTransport.HttpClient)]
    public async Task AnyCall_CallerCancels_ThrowsOperationCanceled(AriRestTransport transport)
    {
        var never = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new LoopbackHttpServer(_ => never.Task);
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "u", Password = "p", RestTransport = transport });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        var call = client.Bridges.ListAsync(cts.Token);
        await Eventually.TrueAsync(() => !server.Requests.IsEmpty, "the request to reach the server", TestContext.Current.CancellationToken);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        never.SetResult([]);
    }

    [Theory]
    [InlineData(AriRestTransport.Sockets)]
    [InlineData(AriRestTransport.HttpClient)]
    public async Task AnyCall_NothingListening_ThrowsAriConnectionException(AriRestTransport transport)
    {
        var port = LoopbackHttpServer.UnusedPort();
        using var client = new AriClient(new AriClientOptions { BaseAddress = new Uri($"http://127.0.0.1:{port}/ari"), UserName = "u", Password = "p", RestTransport = transport });

        var error = await Assert.ThrowsAsync<AriConnectionException>(() => client.Asterisk.PingAsync(TestContext.Current.CancellationToken));
        Assert.Equal("/asterisk/ping", error.Path);
    }

    private sealed record PlannedCall(Func<object> Invoke, bool Typed, Type? ResultType);

    private static PlannedCall Plan(AriClient client, RestExchange exchange, string path)
    {
        var query = QueryPairs(exchange.Query).GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Last().Value);
        var candidates = Operations
            .Where(o => o.Operation.HttpMethod == exchange.Method && o.Pattern.IsMatch(path))
            .OrderByDescending(o => o.Literal)
            .ToList();
        JsonElement? body = null;
        var bodyIsJson = true;
        if (exchange.Body.Length > 0)
        {
            try
            {
                body = JsonDocument.Parse(exchange.Body).RootElement;
            }
            catch (JsonException)
            {
                bodyIsJson = false;
            }
        }

        if (candidates.Count > 0 && bodyIsJson)
        {
            var (operation, method, pattern, _) = candidates[0];
            var names = Regex.Matches(operation.Path, @"\{(\w+)\}").Select(m => m.Groups[1].Value).ToList();
            var captures = pattern.Match(path).Groups.Values.Skip(1).Select(g => Uri.UnescapeDataString(g.Value)).ToList();
            var arguments = new List<object?>();
            var complete = true;
            foreach (var parameter in method.GetParameters())
            {
                if (parameter.ParameterType == typeof(CancellationToken))
                {
                    arguments.Add(TestContext.Current.CancellationToken);
                    continue;
                }

                var ari = parameter.GetCustomAttribute<AriParameterAttribute>()!;
                string? raw = ari.Location switch
                {
                    AriParameterLocation.Path => captures[names.IndexOf(ari.Name)],
                    AriParameterLocation.Query => query.GetValueOrDefault(ari.Name),
                    _ => null,
                };
                object? value = ari.Location == AriParameterLocation.Body
                    ? body is { } b && b.TryGetProperty(ari.Name, out var field) ? field.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!) : null
                    : raw is null ? null : Convert(raw, Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType);
                if (value is null && !parameter.HasDefaultValue)
                {
                    complete = false; // The recording omits a required parameter on purpose: only a raw call can send it.
                }

                arguments.Add(value);
            }

            if (complete)
            {
                var resource = typeof(AriClient).GetProperties().Single(p => p.PropertyType == method.DeclaringType).GetValue(client);
                var returnType = method.ReturnType.IsGenericType ? method.ReturnType.GetGenericArguments()[0] : null;
                return new PlannedCall(() => method.Invoke(resource, [.. arguments])!, true, returnType == typeof(byte[]) ? null : returnType);
            }
        }

        var send = typeof(AriClient).GetMethod("SendRawAsync", BindingFlags.NonPublic | BindingFlags.Instance)!;
        byte[]? rawBody = exchange.Body.Length > 0 ? Encoding.UTF8.GetBytes(exchange.Body) : null;
        return new PlannedCall(() => send.Invoke(client, [exchange.Method, path, exchange.Query, rawBody, TestContext.Current.CancellationToken])!, false, null);
    }

    private static object Convert(string raw, Type type) =>
        type == typeof(string) ? raw
        : type == typeof(int) ? int.Parse(raw, System.Globalization.CultureInfo.InvariantCulture)
        : type == typeof(long) ? long.Parse(raw, System.Globalization.CultureInfo.InvariantCulture)
        : type == typeof(bool) ? bool.Parse(raw)
        : type == typeof(IReadOnlyList<string>) ? raw.Split(',')
        : throw new InvalidOperationException($"no conversion to {type}");

    private static (string User, string Password) Credentials(RestExchange exchange)
    {
        if (exchange.Headers.TryGetValue("Authorization", out var header))
        {
            var pair = Encoding.UTF8.GetString(System.Convert.FromBase64String(header["Basic ".Length..])).Split(':', 2);
            return (pair[0], pair[1]);
        }

        return ("ctibridge", "ctibridge-secret");
    }

    private static string[] Segments(string path) => path.Split('/').Select(Uri.UnescapeDataString).ToArray();

    private static List<(string Name, string Value)> QueryPairs(string? query) =>
        string.IsNullOrEmpty(query)
            ? []
            : query.Split('&')
                .Select(p => p.Split('=', 2))
                .Select(p => (Decode(p[0]), p.Length > 1 ? Decode(p[1]) : ""))
                .OrderBy(p => p.Item1, StringComparer.Ordinal)
                .ToList();

    private static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}
