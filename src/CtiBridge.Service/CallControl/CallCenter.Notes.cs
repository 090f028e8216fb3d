using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>Facts from outside call control numbered in the engine's event stream.</summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// Notes a fact established outside call control (the dialer's preview screen pops) in the
    /// engine's ordered event stream, on the call-control loop: it gets the next sequence number and
    /// its place among the ACD's own events, so a client of <c>/api/events</c> sees one numbering.
    /// Returns false (nothing noted) when call control does not run on this instance now.
    /// </summary>
    public bool TryNote(AcdEvent fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        return _started && _work.Writer.TryWrite(new ApiWork(at =>
        {
            _engine.Note(at, fact);
            return null;
        }, new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously)));
    }
}
