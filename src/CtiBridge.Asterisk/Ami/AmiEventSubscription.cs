using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// An in-order stream of AMI events (and resync signals) for one consumer, from
/// <see cref="AmiClient.SubscribeEvents"/>. Enumerate it once with <c>await foreach</c>; a consumer
/// may await actions on the same client while handling an event (no deadlock: the reader loop never
/// waits for consumers). Dispose it to stop receiving.
/// </summary>
public sealed class AmiEventSubscription : IAsyncEnumerable<AmiEventItem>, IDisposable
{
    private readonly AmiClient _owner;
    private readonly HashSet<string>? _eventNames;
    private readonly Channel<AmiEventItem> _channel = Channel.CreateUnbounded<AmiEventItem>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });

    // Written only by the active connection's reader loop; read counts only by the consumer.
    private long _written;
    private long _read;

    internal AmiEventSubscription(AmiClient owner, int id, IEnumerable<string>? eventNames)
    {
        _owner = owner;
        Id = id;
        if (eventNames is not null)
        {
            _eventNames = new HashSet<string>(eventNames, StringComparer.OrdinalIgnoreCase);
            if (_eventNames.Count == 0)
            {
                _eventNames = null;
            }
        }
    }

    /// <summary>A number identifying the subscription in logs.</summary>
    public int Id { get; }

    /// <summary>Events delivered and not yet read.</summary>
    public long Backlog => Volatile.Read(ref _written) - Volatile.Read(ref _read);

    /// <summary>True when every event passes (no event-name filter).</summary>
    internal bool Accepts(AmiMessage message) =>
        _eventNames is null || (message.EventName is { } name && _eventNames.Contains(name));

    /// <summary>Queues an event; false when the backlog is now past the limit (the event is still queued).</summary>
    internal bool Deliver(AmiMessage message, int limit)
    {
        if (!_channel.Writer.TryWrite(new AmiEventItem(message, null)))
        {
            // Completed (disposed): nothing to deliver to.
            return true;
        }

        var written = _written + 1;
        Volatile.Write(ref _written, written);
        return written - Volatile.Read(ref _read) <= limit;
    }

    internal void DeliverResync(AmiResync resync)
    {
        if (_channel.Writer.TryWrite(new AmiEventItem(null, resync)))
        {
            Volatile.Write(ref _written, _written + 1);
        }
    }

    internal void Complete() => _channel.Writer.TryComplete();

    /// <summary>Takes the next item if one is waiting.</summary>
    public bool TryRead(out AmiEventItem item)
    {
        if (_channel.Reader.TryRead(out item))
        {
            Volatile.Write(ref _read, _read + 1);
            return true;
        }

        return false;
    }

    /// <summary>Waits until an item can be read; false when the subscription has ended.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerator<AmiEventItem> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Stops delivery; the enumeration ends after the items already queued.</summary>
    public void Dispose()
    {
        _owner.Unsubscribe(this);
        Complete();
    }

    private async IAsyncEnumerable<AmiEventItem> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await _channel.Reader.WaitToReadAsync(cancellationToken))
        {
            while (TryRead(out var item))
            {
                yield return item;
            }
        }
    }
}
