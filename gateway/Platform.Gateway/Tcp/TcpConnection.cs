using System.IO.Pipelines;
using System.Net;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tcp;

/// <summary>A TCP or TLS client connection over a duplex pipe; messages to the client are written as raw bytes.</summary>
internal sealed class TcpConnection(string id, TenantRuntime tenant, string protocol, IPEndPoint remote, int localPort, TimeProvider time, IDuplexPipe transport)
    : GatewayConnection(id, tenant, protocol, remote, localPort, time), IDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _closed = new();

    public IDuplexPipe Transport => transport;

    /// <summary>Fires when the connection is asked to close.</summary>
    public CancellationToken Closing => _closed.Token;

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // Flushing waits while the client is not reading: the pipe's pause threshold bounds what is buffered.
            var result = await transport.Output.WriteAsync(payload, cancellationToken);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new IOException("The client connection is closed.");
            }
        }
        finally
        {
            _writeLock.Release();
        }

        CountOut(payload.Length, 1);
    }

    public override void Close(int code, string? reason)
    {
        RecordClose(code, reason);
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }

    public void Dispose()
    {
        _closed.Dispose();
        _writeLock.Dispose();
    }
}
