using Platform.Gateway.Dtls;

namespace Platform.Gateway.Tests.Dtls;

/// <summary>A DTLS connection's queue of client datagrams: bounded, drained on its end, and ended without a fault.</summary>
public sealed class DatagramQueueTests
{
    [Fact]
    public async Task WaitToRead_CompletedAndEmpty_WhileCancelled_EndsWithoutThrowing()
    {
        // The session's end completes the queue and cancels the reader's token at once: that is the end, not a fault.
        var queue = new DatagramQueue(4);
        queue.Complete();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        Assert.False(await queue.WaitToReadAsync(cancelled.Token));
    }

    [Fact]
    public async Task WaitToRead_CompletedWithDatagramsWaiting_WhileCancelled_DrainsThenEnds()
    {
        var queue = new DatagramQueue(4);
        Assert.True(queue.TryWrite(Datagram(1)));
        Assert.True(queue.TryWrite(Datagram(2)));
        queue.Complete();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var read = new List<byte>();
        while (await queue.WaitToReadAsync(cancelled.Token))
        {
            while (queue.TryTake(out var datagram))
            {
                read.Add(datagram.Span[0]);
                datagram.Return();
            }
        }

        Assert.Equal([1, 2], read);
    }

    [Fact]
    public async Task WaitToRead_OpenQueue_Cancelled_Throws()
    {
        var queue = new DatagramQueue(4);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queue.WaitToReadAsync(cancelled.Token).AsTask());
    }

    [Fact]
    public async Task WaitingReader_WokenByDatagram_ByCompletion_AndByCancellation()
    {
        var queue = new DatagramQueue(4);
        using var stop = new CancellationTokenSource();
        using var wake = queue.WakeOnCancel(stop.Token);

        var waiting = queue.WaitToReadAsync(stop.Token);
        Assert.False(waiting.IsCompleted);
        Assert.True(queue.TryWrite(Datagram(7)));
        Assert.True(await waiting);
        Assert.True(queue.TryTake(out var taken));
        taken.Return();

        waiting = queue.WaitToReadAsync(stop.Token);
        Assert.False(waiting.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.AsTask());

        var ending = new DatagramQueue(4);
        var endingWait = ending.WaitToReadAsync(CancellationToken.None);
        Assert.False(endingWait.IsCompleted);
        ending.Complete();
        Assert.False(await endingWait);
    }

    [Fact]
    public void TryWrite_FullOrCompleted_RefusesAndLeavesTheDatagramToTheWriter()
    {
        var queue = new DatagramQueue(2);
        Assert.True(queue.TryWrite(Datagram(1)));
        Assert.True(queue.TryWrite(Datagram(2)));
        var third = Datagram(3);
        Assert.False(queue.TryWrite(third));
        Assert.Equal(3, third.Span[0]);
        third.Return();

        queue.CompleteAndDiscard();
        Assert.False(queue.TryTake(out _));
        var late = Datagram(4);
        Assert.False(queue.TryWrite(late));
        late.Return();
    }

    private static DtlsDatagram Datagram(byte value) => DtlsDatagram.CopyOf([value]);
}
