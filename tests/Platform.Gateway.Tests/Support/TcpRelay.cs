using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A loopback TCP relay in front of a real server that can be cut (every relayed connection dropped and new
/// ones closed at once) and restored, to make a server unreachable without stopping it.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _lock = new();
    private readonly List<TcpClient> _open = [];
    private volatile bool _cut;

    public TcpRelay(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>Drops every relayed connection and closes new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        lock (_lock)
        {
            _cut = true;
            foreach (var client in _open)
            {
                client.Client.Close(0);
            }

            _open.Clear();
        }
    }

    public void Restore() => _cut = false;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_cut)
            {
                client.Client.Close(0);
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        using (client)
        {
            try
            {
                await upstream.ConnectAsync(_target, _stop.Token);
                lock (_lock)
                {
                    // Checked under the lock Cut takes: a connection accepted just before a cut is either
                    // dropped by Cut or sees the cut here, never relayed on past it.
                    if (_cut)
                    {
                        client.Client.Close(0);
                        return;
                    }

                    _open.Add(client);
                    _open.Add(upstream);
                }

                await Task.WhenAny(
                    client.GetStream().CopyToAsync(upstream.GetStream(), _stop.Token),
                    upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A cut or a closed side ends the relay of this connection; the HTTP client sees the failure.
            }
            finally
            {
                lock (_lock)
                {
                    _open.Remove(client);
                    _open.Remove(upstream);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _loop;
        _stop.Dispose();
    }
}
