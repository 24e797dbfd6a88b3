using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>A TCP backend that writes as fast as the peer takes bytes, counting them, until the connection ends.</summary>
internal sealed class FloodBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private long _written;

    public FloodBackend()
    {
        _listener.Start();
        _loop = FloodOneAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Completes when the gateway closed the flooded connection.</summary>
    public Task Ended => _ended.Task;

    private async Task FloodOneAsync()
    {
        try
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'x');
            var stream = client.GetStream();
            while (true)
            {
                await stream.WriteAsync(chunk, _stop.Token);
                Interlocked.Add(ref _written, chunk.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            _ended.TrySetResult();
        }
        catch (OperationCanceledException)
        {
            _ended.TrySetCanceled();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
