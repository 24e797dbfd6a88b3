using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A real TCP backend on a free loopback port that breaks every connection it accepts, the way its
/// <see cref="BackendFault"/> says: closed as soon as the first bytes arrive, or the first chunk echoed and the connection
/// reset (RST, linger 0) on the second, a backend that goes away in the middle of a working connection.
/// </summary>
internal sealed class FaultyBackend : IAsyncDisposable
{
    private readonly BackendFault _fault;
    private readonly LoopbackTcpServer _server;
    private int _broken;

    public FaultyBackend(BackendFault fault)
    {
        _fault = fault;
        _server = new LoopbackTcpServer(BreakAsync);
    }

    public int Port => _server.Port;

    /// <summary>Connections this backend has closed or reset (after reading from them).</summary>
    public int Broken => Volatile.Read(ref _broken);

    private async Task BreakAsync(Socket client, CancellationToken stopping)
    {
        var buffer = new byte[4096];
        try
        {
            var first = await client.ReceiveAsync(buffer, SocketFlags.None, stopping);
            if (first == 0)
            {
                return;
            }

            if (_fault == BackendFault.CloseOnFirstRead)
            {
                client.Shutdown(SocketShutdown.Both);
                Interlocked.Increment(ref _broken);
                return;
            }

            await client.SendAsync(buffer.AsMemory(0, first), SocketFlags.None, stopping);
            if (await client.ReceiveAsync(buffer, SocketFlags.None, stopping) > 0)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Close();
                Interlocked.Increment(ref _broken);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // The gateway went first, or the test is over.
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>How a <see cref="FaultyBackend"/> breaks its connections.</summary>
internal enum BackendFault
{
    /// <summary>Closed (FIN) as soon as the first bytes arrive.</summary>
    CloseOnFirstRead,

    /// <summary>The first chunk echoed, the connection reset (RST) when the second arrives.</summary>
    EchoThenReset,
}
