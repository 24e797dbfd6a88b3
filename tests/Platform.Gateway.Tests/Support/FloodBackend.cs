using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>A TCP backend that writes as fast as the peer takes bytes, counting them, until the connection ends.</summary>
internal sealed class FloodBackend : IAsyncDisposable
{
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LoopbackTcpServer _server;
    private long _written;

    public FloodBackend()
    {
        _server = new LoopbackTcpServer(FloodAsync);
    }

    public int Port => _server.Port;

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Completes when the gateway closed a flooded connection (the first to end).</summary>
    public Task Ended => _ended.Task;

    private async Task FloodAsync(Socket client, CancellationToken stopping)
    {
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        await using var stream = new NetworkStream(client, ownsSocket: false);
        try
        {
            while (true)
            {
                await stream.WriteAsync(chunk, stopping);
                Interlocked.Add(ref _written, chunk.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            _ended.TrySetResult();
        }
        catch (OperationCanceledException)
        {
            _ended.TrySetCanceled(stopping);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        // Never connected: whoever still waits learns the backend is gone.
        _ended.TrySetCanceled();
    }
}
