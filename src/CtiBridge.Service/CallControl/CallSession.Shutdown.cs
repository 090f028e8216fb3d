namespace CtiBridge.Service.CallControl;

/// <summary>A call handed back to the dialplan when the service stops.</summary>
internal sealed partial class CallSession
{
    /// <summary>The caller went back to the dialplan (ARI continue): the channel is not hung up.</summary>
    public bool HandedBack { get; set; }

    /// <summary>The service's stop ended the call (handed back, or cut at the time limit), not a person.</summary>
    public bool EndedByStop { get; set; }

    /// <summary>Completes when every request queued so far has been sent.</summary>
    public Task Sent => _tail;
}
