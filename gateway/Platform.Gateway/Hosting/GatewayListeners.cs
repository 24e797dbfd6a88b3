using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Platform.Gateway.Hosting;

/// <summary>The listeners Kestrel bound, with their actual ports once started (port 0 picks a free one).</summary>
internal sealed class GatewayListeners
{
    public ListenOptions? Ws { get; set; }

    public ListenOptions? Wss { get; set; }

    public ListenOptions? Tls { get; set; }

    /// <summary>The admin listener (health, metrics); the only one that serves HTTP routes.</summary>
    public ListenOptions? Admin { get; set; }

    /// <summary>The shared DTLS listener's bound UDP port; 0 when it is off.</summary>
    public int DtlsPort { get; set; }

    public int WsPort => PortOf(Ws);

    public int WssPort => PortOf(Wss);

    public int TlsPort => PortOf(Tls);

    public int AdminPort => PortOf(Admin);

    /// <summary>Whether a request arrived on the admin listener: the one check every admin route goes through.</summary>
    public bool IsAdmin(int localPort) => Admin is not null && localPort == AdminPort;

    public IReadOnlyList<string> Describe()
    {
        var result = new List<string>();
        if (Ws is not null)
        {
            result.Add(string.Create(CultureInfo.InvariantCulture, $"ws:{WsPort}"));
        }

        if (Wss is not null)
        {
            result.Add(string.Create(CultureInfo.InvariantCulture, $"wss:{WssPort}"));
        }

        if (Tls is not null)
        {
            result.Add(string.Create(CultureInfo.InvariantCulture, $"tls:{TlsPort}"));
        }

        if (DtlsPort > 0)
        {
            result.Add(string.Create(CultureInfo.InvariantCulture, $"dtls:{DtlsPort}"));
        }

        return result;
    }

    private static int PortOf(ListenOptions? listen) => (listen?.EndPoint as IPEndPoint)?.Port ?? 0;
}
