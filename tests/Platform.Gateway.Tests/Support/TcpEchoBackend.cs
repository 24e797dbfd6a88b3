using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real TCP echo server on a free loopback port.</summary>
internal sealed class TcpEchoBackend : IAsyncDisposable
{
    private readonly LoopbackTcpServer _server;

    public TcpEchoBackend()
    {
        _server = new LoopbackTcpServer(EchoAsync);
    }

    public int Port => _server.Port;

    public int Accepted => _server.Accepted;

    private static async Task EchoAsync(Socket client, CancellationToken stopping)
    {
        await using var stream = new NetworkStream(client, ownsSocket: false);
        try
        {
            await stream.CopyToAsync(stream, stopping);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The gateway closed its side.
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
