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
/// action); continuations run asynchronously so user code never runs on the reader loop.
/// </summary>
internal sealed class AmiPendingAction : TaskCompletionSource<AmiListResult>
{
    private readonly AmiConnection _connection;
    private ITimer? _timer;

    public AmiPendingAction(AmiConnection connection, AmiAction action, string actionId, AmiAnswerKind kind, string? awaitedEvent, TimeSpan timeout)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _connection = connection;
        Action = action;
        ActionId = actionId;
        Kind = kind;
        AwaitedEvent = awaitedEvent;
        Timeout = timeout;
    }

    public AmiAction Action { get; }

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

    /// <summary>Starts the timeout; called by the writer loop once the action is on the wire.</summary>
    public void ArmTimeout(TimeProvider time)
    {
        if (Task.IsCompleted)
        {
            return;
        }

        var timer = time.CreateTimer(static state => ((AmiPendingAction)state!).OnTimeout(), this, Timeout, System.Threading.Timeout.InfiniteTimeSpan);
        Volatile.Write(ref _timer, timer);
        // The answer may have come between the write and now.
        if (Task.IsCompleted)
        {
            timer.Dispose();
        }
    }

    public void Complete(AmiListResult result)
    {
        Volatile.Read(ref _timer)?.Dispose();
        TrySetResult(result);
    }

    public void Fail(Exception error)
    {
        Volatile.Read(ref _timer)?.Dispose();
        TrySetException(error);
    }

    /// <summary>The caller stopped waiting: forget the action so a later answer is dropped.</summary>
    public void Cancel(CancellationToken token)
    {
        if (_connection.TryTakePending(ActionId, out _))
        {
            Volatile.Read(ref _timer)?.Dispose();
            TrySetCanceled(token);
        }
    }

    private void OnTimeout()
    {
        if (_connection.TryTakePending(ActionId, out _))
        {
            Volatile.Read(ref _timer)?.Dispose();
            TrySetException(_connection.CreateTimeoutException(this));
        }
    }
}
