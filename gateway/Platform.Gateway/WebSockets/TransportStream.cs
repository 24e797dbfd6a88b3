using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// The connection's transport pipes as the one stream a <see cref="WebSocket"/> runs
/// over. Reads take from the input pipe (a zero-byte read waits for data and holds no buffer); writes go to
/// the output pipe and are flushed. The WebSocket disposes it when it ends: after an abort (a hard close,
/// a client that stopped reading, a missed pong) that aborts the connection, so pending reads and writes
/// end at once; after a normal end the connection closes gracefully once the handler returns, sending what
/// is still queued (the close frame).
/// </summary>
internal sealed class TransportStream(ConnectionContext connection) : Stream
{
    private readonly Stream _input = connection.Transport.Input.AsStream(leaveOpen: true);
    private readonly Stream _output = connection.Transport.Output.AsStream(leaveOpen: true);
    private int _disposed;

    /// <summary>The WebSocket running over this stream.</summary>
    public WebSocket? Socket { get; set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _input.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _output.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _output.WriteAsync(buffer, offset, count, cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads are not supported.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous writes are not supported.");

    public override void Flush() => throw new NotSupportedException("Synchronous flushes are not supported.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0 && (Socket is null || Socket.State == WebSocketState.Aborted))
        {
            connection.Abort(new ConnectionAbortedException("The WebSocket ended."));
        }

        base.Dispose(disposing);
    }
}
