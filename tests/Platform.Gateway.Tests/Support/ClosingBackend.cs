using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real TCP backend on a free loopback port that closes each connection as soon as the first bytes arrive.</summary>
internal sealed class ClosingBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _closed;

    public ClosingBackend()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections this backend has closed after reading from them.</summary>
    public int Closed => Volatile.Read(ref _closed);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = CloseAfterFirstReadAsync(client);
        }
    }

    private async Task CloseAfterFirstReadAsync(Socket client)
    {
        using (client)
        {
            var buffer = new byte[4096];
            try
            {
                if (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                {
                    client.Shutdown(SocketShutdown.Both);
                    Interlocked.Increment(ref _closed);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // The gateway went first, or the test is over.
            }
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
