namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// A stream that first returns bytes already read from <paramref name="inner"/> (what followed a PROXY header in the same
/// read), then reads <paramref name="inner"/>; writes go straight through. Owns <paramref name="inner"/> only when told to.
/// </summary>
internal sealed class ReplayStream(ReadOnlyMemory<byte> early, Stream inner, bool ownsInner) : Stream
{
    private ReadOnlyMemory<byte> _early = early;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (!_early.IsEmpty && !buffer.IsEmpty)
        {
            return TakeEarly(buffer);
        }

        return inner.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_early.IsEmpty && !buffer.IsEmpty)
        {
            return ValueTask.FromResult(TakeEarly(buffer.Span));
        }

        return inner.ReadAsync(buffer, cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsInner)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (ownsInner)
        {
            await inner.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private int TakeEarly(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _early.Length);
        _early.Span[..count].CopyTo(buffer);
        _early = _early[count..];
        return count;
    }
}
