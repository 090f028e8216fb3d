using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// <c>callControl.customerLookup</c>: where CtiBridge asks who is calling before the IVR starts. An
/// HTTP endpoint answers with JSON (<see cref="CustomerInfo"/>), or the <c>customers</c> table of
/// CtiBridge's own database is read; a slow or failing source never holds a caller longer than
/// <see cref="Timeout"/>: the call then goes on as an unknown caller.
/// </summary>
public sealed class CustomerLookupSettings
{
    /// <summary><c>http</c> (default: <see cref="Url"/>) or <c>database</c> (the <c>customers</c> table, by the caller's number).</summary>
    public string Source { get; set; } = "http";

    /// <summary>
    /// For <c>http</c>: GET URL with placeholders <c>{callerNumber}</c> and <c>{did}</c> (URL-encoded), e.g.
    /// <c>https://crm.example.com/cti/caller?number={callerNumber}&amp;did={did}</c>. 404 = unknown caller.
    /// </summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>Longest wait for the answer; after it the call goes on as an unknown caller. Default 1.5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>Optional <c>Authorization</c> header value (use <c>${env:…}</c> or <c>${file:…}</c>; never logged).</summary>
    public string? Authorization { get; set; }

    /// <summary>Sound a blocked (blacklisted) caller hears before being released. Default <c>ss-noservice</c>.</summary>
    public string BlockedPrompt { get; set; } = "ss-noservice";
}

/// <summary>What the lookup knows about a caller (the JSON body the endpoint answers with).</summary>
public sealed record CustomerInfo
{
    /// <summary>CRM customer ID (screen pop).</summary>
    [JsonPropertyName("customerId")]
    public string? CustomerId { get; init; }

    /// <summary>VIP: served first (the queue's <c>vipPriority</c>).</summary>
    [JsonPropertyName("vip")]
    public bool Vip { get; init; }

    /// <summary>Member (会员): plans can send members elsewhere (<c>caller</c> nodes).</summary>
    [JsonPropertyName("member")]
    public bool Member { get; init; }

    /// <summary>On the blacklist: the caller hears the blocked prompt and is released.</summary>
    [JsonPropertyName("blocked")]
    public bool Blocked { get; init; }

    /// <summary>The customer's own agent (所属坐席), preferred by <c>sticky</c> queues.</summary>
    [JsonPropertyName("assignedAgent")]
    public string? AssignedAgent { get; init; }

    /// <summary>Language of the prompts for this caller (e.g. <c>zh</c>, <c>en</c>).</summary>
    [JsonPropertyName("language")]
    public string? Language { get; init; }

    /// <summary>No lookup configured, or the caller is unknown.</summary>
    public static CustomerInfo Unknown { get; } = new();
}

/// <summary>Asks who is calling. Implementations must answer within their own time limit and never throw for a failed lookup.</summary>
public interface ICustomerLookup
{
    /// <summary>What is known about the caller; <see cref="CustomerInfo.Unknown"/> when nothing is (or the source failed).</summary>
    Task<CustomerInfo> LookupAsync(string? callerNumber, string did, CancellationToken cancellationToken);
}

/// <summary>The HTTP lookup: GET the configured URL, JSON answer, bounded by the timeout, unknown on any failure.</summary>
public sealed partial class HttpCustomerLookup : ICustomerLookup, IDisposable
{
    private readonly CustomerLookupSettings _settings;
    private readonly HttpClient _http;
    private readonly ILogger _logger;

    /// <summary>Creates the lookup for validated settings.</summary>
    public HttpCustomerLookup(CustomerLookupSettings settings, ILogger<HttpCustomerLookup> logger)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _http = new HttpClient { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    /// <inheritdoc />
    public async Task<CustomerInfo> LookupAsync(string? callerNumber, string did, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(callerNumber))
        {
            return CustomerInfo.Unknown;
        }

        var url = _settings.Url.Replace("{callerNumber}", Uri.EscapeDataString(callerNumber), StringComparison.Ordinal)
            .Replace("{did}", Uri.EscapeDataString(did), StringComparison.Ordinal);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (!string.IsNullOrEmpty(_settings.Authorization))
            {
                request.Headers.TryAddWithoutValidation("Authorization", _settings.Authorization);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return CustomerInfo.Unknown;
            }

            if (!response.IsSuccessStatusCode)
            {
                LogFailed(_logger, callerNumber, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                return CustomerInfo.Unknown;
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(body, CustomerLookupJson.Default.CustomerInfo, timeout.Token).ConfigureAwait(false) ?? CustomerInfo.Unknown;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, callerNumber, string.Create(CultureInfo.InvariantCulture, $"no answer within {_settings.Timeout.TotalMilliseconds:0} ms"));
            return CustomerInfo.Unknown;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException)
        {
            LogFailed(_logger, callerNumber, ex.Message);
            return CustomerInfo.Unknown;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    [LoggerMessage(EventId = 850, Level = LogLevel.Warning, Message = "Customer lookup for caller {CallerNumber} failed ({Reason}); the call goes on as an unknown caller")]
    private static partial void LogFailed(ILogger logger, string callerNumber, string reason);
}

/// <summary>The database lookup: the <c>customers</c> row of the caller's number, bounded by the timeout, unknown on any failure.</summary>
public sealed partial class DatabaseCustomerLookup : ICustomerLookup
{
    private readonly CustomerLookupSettings _settings;
    private readonly Data.Customers.CustomerStore _customers;
    private readonly ILogger _logger;

    /// <summary>Creates the lookup for validated settings over the service's database.</summary>
    public DatabaseCustomerLookup(CustomerLookupSettings settings, Data.Customers.CustomerStore customers, ILogger<DatabaseCustomerLookup> logger)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _customers = customers ?? throw new ArgumentNullException(nameof(customers));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <inheritdoc />
    public async Task<CustomerInfo> LookupAsync(string? callerNumber, string did, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(callerNumber))
        {
            return CustomerInfo.Unknown;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.Timeout);
        try
        {
            var customer = await _customers.FindAsync(callerNumber, timeout.Token).ConfigureAwait(false);
            return customer is null ? CustomerInfo.Unknown : new CustomerInfo
            {
                CustomerId = customer.CustomerId, Vip = customer.Vip, Member = customer.Member, Blocked = customer.Blocked,
                AssignedAgent = customer.AssignedAgent, Language = customer.Language,
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, callerNumber, string.Create(CultureInfo.InvariantCulture, $"no answer from the database within {_settings.Timeout.TotalMilliseconds:0} ms"));
            return CustomerInfo.Unknown;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            LogFailed(_logger, callerNumber, ex.Message);
            return CustomerInfo.Unknown;
        }
    }

    [LoggerMessage(EventId = 941, Level = LogLevel.Warning, Message = "Customer lookup in the database for caller {CallerNumber} failed ({Reason}); the call goes on as an unknown caller")]
    private static partial void LogFailed(ILogger logger, string callerNumber, string reason);
}

/// <summary>Source-generated JSON for the lookup's answer.</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(CustomerInfo))]
internal sealed partial class CustomerLookupJson : JsonSerializerContext;

/// <summary>Checks <c>callControl.customerLookup</c>.</summary>
internal static class CustomerLookupConfiguration
{
    public static void Validate(CustomerLookupSettings lookup, List<SettingsProblem> problems)
    {
        if (lookup.Source == "database")
        {
            if (!string.IsNullOrEmpty(lookup.Url))
            {
                problems.Add(new SettingsProblem("callControl.customerLookup.url", "is for source \"http\"; with source \"database\" the customers table is read (remove the url, or set source to \"http\")"));
            }
        }
        else if (lookup.Source != "http")
        {
            problems.Add(new SettingsProblem("callControl.customerLookup.source", $"'{lookup.Source}' is not a lookup source; write \"http\" (the url) or \"database\" (the customers table){SpellingSuggestion.DidYouMean(lookup.Source, ["http", "database"])}"));
        }
        else if (!Uri.TryCreate(lookup.Url.Replace("{callerNumber}", "0", StringComparison.Ordinal).Replace("{did}", "0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https"))
        {
            problems.Add(new SettingsProblem("callControl.customerLookup.url", $"'{lookup.Url}' is not an http(s) URL (e.g. \"https://crm.example.com/cti/caller?number={{callerNumber}}\")"));
        }
        else if (!lookup.Url.Contains("{callerNumber}", StringComparison.Ordinal))
        {
            problems.Add(new SettingsProblem("callControl.customerLookup.url", "has no {callerNumber} placeholder; the endpoint would not know who is calling"));
        }

        if (lookup.Timeout <= TimeSpan.Zero || lookup.Timeout > TimeSpan.FromSeconds(10))
        {
            problems.Add(new SettingsProblem("callControl.customerLookup.timeout", $"{lookup.Timeout} must be between zero and 00:00:10 (the caller hears silence meanwhile)"));
        }

        if (string.IsNullOrWhiteSpace(lookup.BlockedPrompt))
        {
            problems.Add(new SettingsProblem("callControl.customerLookup.blockedPrompt", "is required (the sound a blocked caller hears, e.g. \"ss-noservice\")"));
        }
    }
}
