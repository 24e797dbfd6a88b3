using System.Net;
using System.Net.Sockets;

namespace Platform.Testing;

/// <summary>Loopback TCP ports nothing listens on at the moment of asking.</summary>
public static class FreePorts
{
    public static int Tcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
