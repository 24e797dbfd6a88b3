using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A loopback TCP relay in front of a target; <see cref="Cut"/> resets relayed connections (every one, or those
/// accepted since a mark) and every new one, as a network partition would, until <see cref="Restore"/>.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<(TcpClient Socket, long Ordinal)> _open = [];
    private long _accepted;
    private readonly int _targetPort;
    private readonly Task _loop;
    private volatile bool _cut;

    public TcpRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _loop = AcceptAsync();
    }

    /// <summary>The relay as <c>127.0.0.1:port</c> (for a gateway's <c>Platform:SiloEndpoints</c>).</summary>
    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (_cut)
            {
                Reset(client);
                continue;
            }

            _ = RelayAsync(client, Interlocked.Increment(ref _accepted) - 1);
        }
    }

    /// <summary>Connections accepted so far: a mark for <see cref="Cut"/> that spares the connections already there.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    private async Task RelayAsync(TcpClient client, long ordinal)
    {
        using var target = new TcpClient();
        using (client)
        {
            try
            {
                await target.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                lock (_lock)
                {
                    _open.Add((client, ordinal));
                    _open.Add((target, ordinal));
                }

                var up = client.GetStream().CopyToAsync(target.GetStream(), _stop.Token);
                var down = target.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
                await Task.WhenAny(up, down);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // One side went away or the relay was cut.
            }
            finally
            {
                lock (_lock)
                {
                    _open.Remove((client, ordinal));
                    _open.Remove((target, ordinal));
                }
            }
        }
    }

    /// <summary>
    /// Resets the relayed connections accepted from <paramref name="from"/> on (by default every one), and every new
    /// one until <see cref="Restore"/>.
    /// </summary>
    public void Cut(long from = 0)
    {
        _cut = true;
        lock (_lock)
        {
            foreach (var (socket, ordinal) in _open.ToList())
            {
                if (ordinal >= from)
                {
                    Reset(socket);
                    _open.Remove((socket, ordinal));
                }
            }
        }
    }

    /// <summary>Relays new connections again.</summary>
    public void Restore() => _cut = false;

    private static void Reset(TcpClient client)
    {
        try
        {
            client.Client?.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
            // Its relay already ended.
        }

        client.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
