using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Platform.Testing;

/// <summary>Loopback TCP ports nothing listens on at the moment of asking.</summary>
/// <remarks>
/// A port the kernel picks for port 0 lies in the ephemeral range (32768-60999 on Linux), from which every outgoing
/// connection of the tests (to PostgreSQL, to silos, to gateways) also takes its local port: such a port could be taken
/// by one of them before the silo or gateway that asked for it binds it. These ports come from below that range (and
/// above the gateways' default dedicated-port range, 20000-20999), are checked free by binding them, and are never handed
/// out twice in one test process.
/// </remarks>
public static class FreePorts
{
    private const int First = 21000;
    private const int Last = 29999;
    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    public static int Tcp()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(First, Last + 1);
            if (!HandedOut.TryAdd(port, true))
            {
                continue;
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use by another process: try another.
            }
        }

        throw new InvalidOperationException($"No free loopback TCP port found between {First} and {Last}.");
    }
}
