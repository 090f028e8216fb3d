namespace CtiBridge.Core.Acd;

/// <summary>
/// Callback tasks in the ACD: a callback owed to a customer, queued for an agent like a call and
/// marked by the caller attribute <see cref="AttributeName"/>. They are the centre calling out
/// (D-02), not customers calling in, so they are <b>not inbound queue visits</b> (docs/metrics.md
/// §3a): the live statistics and the SQL reports both leave them out of every queue figure
/// (offered, answered, service level, ASA, AHT, abandons) and of the agents' inbound call counts;
/// the agent's time on them stays in the state log (in call, wrap-up), and each attempt is an
/// outbound <c>calls</c> row written by call control.
/// </summary>
public static class CallbackTasks
{
    /// <summary>The caller attribute holding the callback's id on a callback task.</summary>
    public const string AttributeName = "callbackId";

    /// <summary>True when the queued "call" is a callback task.</summary>
    public static bool IsCallbackTask(CallerData caller) => caller?.Attributes.ContainsKey(AttributeName) == true;
}
