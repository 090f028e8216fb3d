namespace CtiBridge.Asterisk.Ami;

/// <summary>What answer completes an action.</summary>
internal enum AmiAnswerKind
{
    /// <summary>The <c>Response:</c> message alone.</summary>
    Response,

    /// <summary><c>Response: Success</c> + <c>EventList: start</c>, items, then an <c>EventList: Complete</c> event.</summary>
    List,

    /// <summary>The response, then one event of a given name with the same ActionID (<c>OriginateResponse</c>).</summary>
    ResponseThenEvent,
}

/// <summary>
/// An action waiting for its answer. It is the completion source itself (one allocation less per
/// action); continuations run asynchronously so user code never runs on the reader loop. Its
/// timeout is an entry in the connection's shared <see cref="AmiActionTimeouts"/>, not a timer of
/// its own.
/// </summary>
internal sealed class AmiPendingAction : TaskCompletionSource<AmiListResult>
{
    private readonly AmiConnection _connection;

    public AmiPendingAction(AmiConnection connection, AmiAction action, long key, string actionId, AmiAnswerKind kind, string? awaitedEvent, TimeSpan timeout)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _connection = connection;
        Action = action;
        Key = key;
        ActionId = actionId;
        Kind = kind;
        AwaitedEvent = awaitedEvent;
        Timeout = timeout;
    }

    public AmiAction Action { get; }

    /// <summary>The counter part of the ActionID: the key of the connection's pending table.</summary>
    public long Key { get; }

    public string ActionId { get; }

    public AmiAnswerKind Kind { get; }

    public string? AwaitedEvent { get; }

    public TimeSpan Timeout { get; }

    /// <summary>Set by the reader loop only: the response of a list or originate still collecting.</summary>
    public AmiMessage? Response { get; set; }

    /// <summary>Reader loop only: list items so far.</summary>
    public List<AmiMessage>? Items { get; set; }

    /// <summary>True for the Login action, whose success starts the connection's event flow.</summary>
    public bool IsLogin { get; init; }

    public void Complete(AmiListResult result) => TrySetResult(result);

    public void Fail(Exception error) => TrySetException(error);

    /// <summary>The caller stopped waiting: forget the action so a later answer is dropped.</summary>
    public void Cancel(CancellationToken token)
    {
        if (_connection.TryTakePending(Key, out _))
        {
            TrySetCanceled(token);
        }
    }

    /// <summary>Called by the timeout sweep once the deadline has passed.</summary>
    public void OnTimeout()
    {
        if (_connection.TryTakePending(Key, out _))
        {
            TrySetException(_connection.CreateTimeoutException(this));
        }
    }
}
