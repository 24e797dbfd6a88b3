using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A real TCP backend on a free loopback port that echoes the first chunk it reads on each connection and resets the
/// connection (RST, linger 0) on the second: a backend that goes away in the middle of a working connection.
/// </summary>
internal sealed class ResettingBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _reset;

    public ResettingBackend()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections this backend has reset.</summary>
    public int Reset => Volatile.Read(ref _reset);

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

            _ = EchoThenResetAsync(client);
        }
    }

    private async Task EchoThenResetAsync(Socket client)
    {
        using (client)
        {
            var buffer = new byte[4096];
            try
            {
                var first = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (first == 0)
                {
                    return;
                }

                await client.SendAsync(buffer.AsMemory(0, first), SocketFlags.None, _stop.Token);
                if (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                {
                    client.LingerState = new LingerOption(true, 0);
                    client.Close();
                    Interlocked.Increment(ref _reset);
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
