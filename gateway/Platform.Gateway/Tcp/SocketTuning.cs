using System.Net.Sockets;
using Platform.Contracts.Config;

namespace Platform.Gateway.Tcp;

/// <summary>Applies a tenant's socket options (TcpNoDelay, KeepAlive, Linger) to an accepted socket.</summary>
internal static class SocketTuning
{
    public static void Apply(Socket? socket, SocketConfig config)
    {
        if (socket is null || socket.ProtocolType != ProtocolType.Tcp)
        {
            return;
        }

        try
        {
            socket.NoDelay = config.NoDelay;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, config.KeepAlive);
            if (config.KeepAlive)
            {
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, config.KeepAliveTimeSeconds);
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, config.KeepAliveIntervalSeconds);
            }

            // Linger off means an immediate reset on close instead of a graceful FIN after queued data.
            socket.LingerState = config.Linger ? new LingerOption(false, 0) : new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // The peer is already gone; the connection ends on its first read.
        }
        catch (ObjectDisposedException)
        {
            // Same: closed before the options could be applied.
        }
    }
}
