using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Platform.Contracts.Problems;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tcp;

/// <summary>
/// A TCP or TLS client connection over a duplex pipe: messages to the client are written as raw bytes; the client's
/// byte stream is cut into messages per the tenant's framing. A refusal simply closes the stream (the caller completes
/// the transport), since a raw stream has no refusal signal of its own.
/// </summary>
internal sealed class TcpConnection(string id, TenantRuntime tenant, string protocol, IPEndPoint remote, int localPort, TimeProvider time, IDuplexPipe transport)
    : GatewayConnection(id, tenant, protocol, remote, localPort, time), IPumpedClient
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _closed = new();

    public IDuplexPipe Transport => transport;

    /// <summary>Fires when the connection is asked to close.</summary>
    public CancellationToken Ending => _closed.Token;

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

    public ValueTask RefuseAsync(RefusalReason reason, int? status, string? detail, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask AcceptAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async Task ReadAsync(BackendWriter backend, CancellationToken cancellationToken)
    {
        var framer = new StreamFramer(Tenant.Config.Framing);
        var input = transport.Input;
        long counted = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;

            // Bytes left unframed by the previous read are re-read; count only what is new.
            if (buffer.Length > counted)
            {
                CountIn((int)(buffer.Length - counted), 0);
            }

            while (framer.TryRead(ref buffer, result.IsCompleted, out var message))
            {
                CountIn(0, 1);
                await WriteAsync(backend, message, cancellationToken);
            }

            counted = buffer.Length;
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                RecordClose(CloseCodes.ClientClosed, "client closed");
                return;
            }
        }
    }

    public bool TryClassifyReadFault(Exception fault, out int code, out string reason)
    {
        (code, reason) = fault switch
        {
            IOException => (CloseCodes.ClientClosed, "client read failed"),
            _ => (0, ""),
        };
        return code != 0;
    }

    /// <summary>A message in one segment goes to the delivery as it lies in the pipe; one spread over segments is gathered once into a pooled buffer.</summary>
    private static async ValueTask WriteAsync(BackendWriter backend, ReadOnlySequence<byte> message, CancellationToken cancellationToken)
    {
        if (message.IsSingleSegment)
        {
            await backend.WriteAsync(message.First, text: false, cancellationToken);
            return;
        }

        var length = (int)message.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(rented);
            await backend.WriteAsync(rented.AsMemory(0, length), text: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public void Dispose()
    {
        _closed.Dispose();
        _writeLock.Dispose();
    }
}
