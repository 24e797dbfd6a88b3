using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A real TCP backend on a free loopback port that breaks every connection it accepts, the way its
/// <see cref="BackendFault"/> says: closed as soon as the first bytes arrive, or the first chunk echoed and the connection
/// reset (RST, linger 0) on the second, a backend that goes away in the middle of a working connection.
/// </summary>
internal sealed class FaultyBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly BackendFault _fault;
    private readonly Task _loop;
    private int _broken;

    public FaultyBackend(BackendFault fault)
    {
        _fault = fault;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections this backend has closed or reset (after reading from them).</summary>
    public int Broken => Volatile.Read(ref _broken);

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

            _ = BreakAsync(client);
        }
    }

    private async Task BreakAsync(Socket client)
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

                if (_fault == BackendFault.CloseOnFirstRead)
                {
                    client.Shutdown(SocketShutdown.Both);
                    Interlocked.Increment(ref _broken);
                    return;
                }

                await client.SendAsync(buffer.AsMemory(0, first), SocketFlags.None, _stop.Token);
                if (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
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
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>How a <see cref="FaultyBackend"/> breaks its connections.</summary>
internal enum BackendFault
{
    /// <summary>Closed (FIN) as soon as the first bytes arrive.</summary>
    CloseOnFirstRead,

    /// <summary>The first chunk echoed, the connection reset (RST) when the second arrives.</summary>
    EchoThenReset,
}
