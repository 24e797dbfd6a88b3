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
    private readonly Channel<ProxyV2Header> _headers = Channel.CreateUnbounded<ProxyV2Header>();
    private readonly LoopbackTcpServer _server;

    public ProxyV2Backend()
    {
        _server = new LoopbackTcpServer(ServeAsync);
    }

    public int Port => _server.Port;

    /// <summary>The header of the next connection; a connection whose header does not parse fails the wait.</summary>
    public async Task<ProxyV2Header> NextHeaderAsync()
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        return await _headers.Reader.ReadAsync(limit.Token);
    }

    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        await using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                limit.CancelAfter(WaitLimit);
                _headers.Writer.TryWrite(await ProxyV2Header.ReadAsync(stream, limit.Token));
                await stream.CopyToAsync(stream, stopping);
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

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
