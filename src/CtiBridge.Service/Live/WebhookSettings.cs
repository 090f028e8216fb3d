using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Live;

/// <summary>
/// One <c>webhooks[]</c> entry: live events posted as JSON to <see cref="Url"/>, signed with
/// HMAC-SHA256 of <c>timestamp + "." + body</c> under <see cref="Secret"/> (docs/api.md, webhooks).
/// </summary>
public sealed class WebhookSettings
{
    /// <summary>A short unique name (logs, metrics, the dead-letter list).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Where events are posted (https outside loopback).</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>The signing secret shared with the receiver; a secret reference is recommended.</summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>Event types to post (e.g. <c>screenPop</c>, <c>call.ended</c>); empty for all.</summary>
    public List<string> Events { get; set; } = [];

    /// <summary>Attempts before an event goes to the dead-letter table (default 6).</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>Wait before the first retry, doubling each time (default 1 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one attempt may take (default 10 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The event types a webhook may subscribe to.</summary>
    public static readonly IReadOnlyList<string> EventTypes =
    [
        "agent.loggedIn", "agent.loginRefused", "agent.state", "agent.mute", "call.hold", "call.enqueued", "call.offered", "call.offerEnded",
        "call.pickedUp", "call.answered", "call.abandoned", "call.overflowed", "call.lost", "call.completed", "call.handlingEnded", "call.ended", "screenPop",
    ];

    /// <summary>Adds one problem per invalid value, naming the setting.</summary>
    public static void Validate(List<WebhookSettings> webhooks, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(webhooks);
        ArgumentNullException.ThrowIfNull(problems);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < webhooks.Count; i++)
        {
            var hook = webhooks[i];
            var at = $"webhooks[{i}]";
            if (string.IsNullOrWhiteSpace(hook.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", "is required (e.g. \"crm\")"));
            }
            else if (!names.Add(hook.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"webhook '{hook.Name}' is configured twice"));
            }

            if (!Uri.TryCreate(hook.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                problems.Add(new SettingsProblem($"{at}.url", $"'{hook.Url}' is not an http(s) URL such as https://crm.example.com/ctibridge/events"));
            }

            if (hook.Secret.Length < 16)
            {
                problems.Add(new SettingsProblem($"{at}.secret", "must be at least 16 characters (e.g. \"${file:/etc/ctibridge/crm-webhook.secret}\")"));
            }

            for (var e = 0; e < hook.Events.Count; e++)
            {
                if (!EventTypes.Contains(hook.Events[e], StringComparer.Ordinal))
                {
                    problems.Add(new SettingsProblem($"{at}.events[{e}]", $"'{hook.Events[e]}' is not an event type{SpellingSuggestion.DidYouMean(hook.Events[e], EventTypes)}"));
                }
            }

            if (hook.MaxAttempts is < 1 or > 20)
            {
                problems.Add(new SettingsProblem($"{at}.maxAttempts", $"{hook.MaxAttempts} must be between 1 and 20"));
            }

            if (hook.RetryDelay <= TimeSpan.Zero)
            {
                problems.Add(new SettingsProblem($"{at}.retryDelay", $"{hook.RetryDelay} must be longer than zero"));
            }

            if (hook.Timeout <= TimeSpan.Zero)
            {
                problems.Add(new SettingsProblem($"{at}.timeout", $"{hook.Timeout} must be longer than zero"));
            }
        }
    }
}
