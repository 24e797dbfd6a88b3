using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Platform.Testing;

/// <summary>Loopback ports nothing listens on at the moment of asking, and that no other test process is handed.</summary>
/// <remarks>
/// A port the kernel picks for port 0 lies in the ephemeral range (32768-60999 on Linux), from which every outgoing
/// connection of the tests (to PostgreSQL, to silos, to gateways) also takes its local port: such a port could be taken
/// by one of them before the silo or gateway that asked for it binds it. These ports come from below that range (and
/// above the gateways' default dedicated-port range, 20000-20999) and are checked free by binding them (for UDP too
/// where a caller needs it).
/// <para>
/// The test projects run as several processes at once, each choosing ports from the same range: two of them could be
/// handed the same free port, and the one that binds it second fails. So each port handed out is also claimed for the
/// whole life of the process with an exclusive lock on a file named after it (an advisory <c>flock</c>, released by the
/// kernel when the process ends, however it ends), which a second process cannot take.
/// </para>
/// </remarks>
public static class FreePorts
{
    private const int First = 21000;
    private const int Last = 29999;
    private static readonly ConcurrentDictionary<int, FileStream> Claimed = new();
    private static readonly string ClaimDirectory = Path.Combine(Path.GetTempPath(), "platform-test-ports");

    /// <summary>A port free for TCP on 127.0.0.1.</summary>
    public static int Tcp() => Find(1, udpToo: false);

    /// <summary>A port free for both TCP and UDP on 127.0.0.1 (for a server that listens on both, such as dnsmasq).</summary>
    public static int TcpAndUdp() => Find(1, udpToo: true);

    /// <summary>A run of <paramref name="width"/> consecutive ports, each free for TCP and UDP (a gateway's dedicated ports).</summary>
    public static (int First, int Last) Range(int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var first = Find(width, udpToo: true);
        return (first, first + width - 1);
    }

    private static int Find(int width, bool udpToo)
    {
        Directory.CreateDirectory(ClaimDirectory);
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var first = Random.Shared.Next(First, Last + 2 - width);
            var claimed = 0;
            while (claimed < width && TryClaim(first + claimed))
            {
                claimed++;
            }

            if (claimed == width && Enumerable.Range(first, width).All(port => IsFree(port, udpToo)))
            {
                return first;
            }

            // Claimed by another test process, or in use: the ports claimed stay claimed so they are not tried again.
        }

        throw new InvalidOperationException($"No run of {width} free loopback port(s) found between {First} and {Last}.");
    }

    /// <summary>Claims <paramref name="port"/> for this process, unless this or another test process already has.</summary>
    private static bool TryClaim(int port)
    {
        if (Claimed.ContainsKey(port))
        {
            return false;
        }

        FileStream claim;
        try
        {
            // FileShare.None takes an exclusive flock on Unix: another process's open fails while this one lives.
            claim = new FileStream(Path.Combine(ClaimDirectory, port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            // Claimed by another test process.
            return false;
        }

        if (!Claimed.TryAdd(port, claim))
        {
            claim.Dispose();
            return false;
        }

        return true;
    }

    private static bool IsFree(int port, bool udpToo)
    {
        try
        {
            using var tcp = new TcpListener(IPAddress.Loopback, port);
            tcp.Start();
            if (udpToo)
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
