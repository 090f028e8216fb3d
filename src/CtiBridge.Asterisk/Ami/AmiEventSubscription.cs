using System.Runtime.CompilerServices;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// An in-order stream of AMI events (and resync signals) for one consumer, from
/// <see cref="AmiClient.SubscribeEvents"/>. Enumerate it once with <c>await foreach</c>; a consumer
/// may await actions on the same client while handling an event (no deadlock: the reader loop never
/// waits for consumers). Dispose it to stop receiving.
/// </summary>
/// <remarks>
/// A double buffer rather than a channel: the socket reader appends to one array under a lock that
/// the consumer takes only once per batch (to swap arrays), and the consumer is woken once per
/// socket read (<see cref="Flush"/>) rather than once per event. A per-event hand-over cost the
/// reader more than parsing the event did.
/// </remarks>
public sealed class AmiEventSubscription : IAsyncEnumerable<AmiEventItem>, IDisposable
{
    private const int InitialCapacity = 256;

    private readonly AmiClient _owner;
    private readonly HashSet<string>? _eventNames;
    private readonly Lock _lock = new();

    // Appended by the reader loop (and by resync signals) under _lock.
    private AmiEventItem[] _incoming = new AmiEventItem[InitialCapacity];
    private int _incomingCount;
    // Bytes held by _incoming's events: the reader's lead over the consumer (see AmiClientOptions.ReaderLead).
    private long _incomingBytes;
    // The socket reader, paused until the consumer takes a batch (or a timeout, an action, the end).
    private TaskCompletionSource? _readerWaiter;
    // Set when a pause timed out: the consumer is busy elsewhere, so the reader does not pause
    // again until the consumer takes its next batch.
    private bool _consumerStalled;
    private bool _completed;
    // The consumer waiting for items, if any; completed outside the lock, continuations asynchronous.
    private TaskCompletionSource<bool>? _waiter;
    // True when items were appended since the last wake-up (so Flush knows whether to wake).
    private bool _unsignalled;

    // The consumer's side: items swapped out of _incoming, read without a lock.
    private AmiEventItem[] _reading = new AmiEventItem[InitialCapacity];
    private int _readIndex;
    private int _readCount;

    // Written only under _lock; read counts only by the consumer.
    private long _written;
    private long _read;
    private long _bytesWritten;
    private long _bytesRead;

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

    /// <summary>Approximate memory held by the events delivered and not yet read, in bytes.</summary>
    public long BacklogBytes => Volatile.Read(ref _bytesWritten) - Volatile.Read(ref _bytesRead);

    /// <summary>True when every event passes (no event-name filter).</summary>
    internal bool Accepts(AmiMessage message) =>
        _eventNames is null || (message.EventName is { } name && _eventNames.Contains(name));

    /// <summary>
    /// Queues an event without waking the consumer (the reader calls <see cref="Flush"/> after each
    /// socket read); false when the backlog is now past either limit (the event is still queued).
    /// </summary>
    internal bool Deliver(AmiMessage message, int limit, long byteLimit)
    {
        long written;
        long bytesWritten;
        var size = message.MemorySize;
        lock (_lock)
        {
            if (_completed)
            {
                // Disposed: nothing to deliver to.
                return true;
            }

            Append(new AmiEventItem(message, null));
            _incomingBytes += size;
            written = _written;
            bytesWritten = _bytesWritten + size;
            Volatile.Write(ref _bytesWritten, bytesWritten);
        }

        return written - Volatile.Read(ref _read) <= limit && bytesWritten - Volatile.Read(ref _bytesRead) <= byteLimit;
    }

    /// <summary>
    /// Reader: when the consumer has not yet taken more than <paramref name="lead"/> bytes of
    /// events, returns a task the consumer completes when it takes them (or
    /// <see cref="ReleaseReader"/>, <see cref="Complete"/>); null when the reader need not pause.
    /// </summary>
    internal TaskCompletionSource? TryBeginReaderPause(long lead)
    {
        lock (_lock)
        {
            if (_completed || _consumerStalled || _incomingBytes <= lead)
            {
                return null;
            }

            return _readerWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Reader: the pause ended without the consumer (an action was sent, or it timed out).</summary>
    internal void EndReaderPause(TaskCompletionSource waiter, bool timedOut)
    {
        lock (_lock)
        {
            if (_readerWaiter == waiter)
            {
                _readerWaiter = null;
                _consumerStalled = timedOut;
            }
        }
    }

    /// <summary>Lets a paused reader go on (an action was queued: its response must not wait behind the pause).</summary>
    internal void ReleaseReader()
    {
        if (Volatile.Read(ref _readerWaiter) is null)
        {
            return;
        }

        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _readerWaiter;
            _readerWaiter = null;
        }

        waiter?.TrySetResult();
    }

    /// <summary>Queues a resync signal and wakes the consumer at once.</summary>
    internal void DeliverResync(AmiResync resync)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            Append(new AmiEventItem(null, resync));
        }

        Flush();
    }

    /// <summary>Wakes the consumer if it waits and something was queued since it last woke.</summary>
    internal void Flush()
    {
        TaskCompletionSource<bool>? waiter;
        lock (_lock)
        {
            if (!_unsignalled)
            {
                return;
            }

            _unsignalled = false;
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult(true);
    }

    internal void Complete()
    {
        TaskCompletionSource<bool>? waiter;
        TaskCompletionSource? reader;
        lock (_lock)
        {
            _completed = true;
            waiter = _waiter;
            _waiter = null;
            reader = _readerWaiter;
            _readerWaiter = null;
        }

        // True: the consumer looks again and finds either the last items or the end.
        waiter?.TrySetResult(true);
        reader?.TrySetResult();
    }

    /// <summary>Takes the next item if one is waiting.</summary>
    public bool TryRead(out AmiEventItem item)
    {
        if (_readIndex == _readCount && !SwapIn())
        {
            item = default;
            return false;
        }

        item = _reading[_readIndex];
        // Cleared so a read event can be collected while the batch is still being read.
        _reading[_readIndex++] = default;
        Volatile.Write(ref _read, _read + 1);
        if (item.Event is { } message)
        {
            Volatile.Write(ref _bytesRead, _bytesRead + message.MemorySize);
        }

        return true;
    }

    /// <summary>Waits until an item can be read; false when the subscription has ended.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (_readIndex < _readCount)
        {
            return new ValueTask<bool>(true);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        TaskCompletionSource<bool> waiter;
        lock (_lock)
        {
            if (_incomingCount > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            waiter = _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return WaitAsync(waiter, cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerator<AmiEventItem> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Stops delivery; the enumeration ends after the items already queued.</summary>
    public void Dispose()
    {
        _owner.Unsubscribe(this);
        Complete();
    }

    private async ValueTask<bool> WaitAsync(TaskCompletionSource<bool> waiter, CancellationToken cancellationToken)
    {
        await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Woken: items arrived, or the subscription ended (then true only if items remain).
        return await WaitToReadAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Append(AmiEventItem item)
    {
        if (_incomingCount == _incoming.Length)
        {
            Array.Resize(ref _incoming, _incoming.Length * 2);
        }

        _incoming[_incomingCount++] = item;
        _unsignalled = true;
        Volatile.Write(ref _written, _written + 1);
    }

    /// <summary>Consumer: swaps the (fully read, cleared) reading array with the incoming one.</summary>
    private bool SwapIn()
    {
        TaskCompletionSource? reader;
        lock (_lock)
        {
            // Taking a batch (or looking for one) shows the consumer is alive: the reader may pause again.
            _consumerStalled = false;
            if (_incomingCount == 0)
            {
                return false;
            }

            reader = _readerWaiter;
            _readerWaiter = null;

            (_reading, _incoming) = (_incoming, _reading);
            _readCount = _incomingCount;
            _readIndex = 0;
            _incomingCount = 0;
            _incomingBytes = 0;
            if (_incoming.Length > InitialCapacity && _incoming.Length > 4 * _readCount)
            {
                // After a burst, do not keep a large empty array around for good.
                _incoming = new AmiEventItem[Math.Max(InitialCapacity, _readCount)];
            }
        }

        // The consumer now has the whole lead in hand: the reader may parse the next one meanwhile.
        reader?.TrySetResult();
        return true;
    }

    private async IAsyncEnumerable<AmiEventItem> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var item))
            {
                yield return item;
            }
        }
    }
}
