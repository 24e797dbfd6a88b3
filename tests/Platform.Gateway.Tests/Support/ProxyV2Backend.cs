using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A TCP backend on a free loopback port that expects a PROXY v2 header on every connection: it parses the header,
/// hands it to the test, and echoes whatever follows.
/// </summary>
internal sealed class ProxyV2Backend : IAsyncDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<ProxyV2Header> _headers = Channel.CreateUnbounded<ProxyV2Header>();
    private readonly Task _loop;

    public ProxyV2Backend()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The header of the next connection; a connection whose header does not parse fails the wait.</summary>
    public async Task<ProxyV2Header> NextHeaderAsync()
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        return await _headers.Reader.ReadAsync(limit.Token);
    }

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

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        await using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                limit.CancelAfter(WaitLimit);
                _headers.Writer.TryWrite(await ProxyV2Header.ReadAsync(stream, limit.Token));
                await stream.CopyToAsync(stream, _stop.Token);
            }
            catch (InvalidDataException ex)
            {
                _headers.Writer.TryComplete(ex);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The gateway closed its side, or the test ended.
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
