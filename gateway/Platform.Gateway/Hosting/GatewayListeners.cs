using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Hosting;

/// <summary>The listeners Kestrel bound, with their actual ports once started (port 0 picks a free one).</summary>
internal sealed class GatewayListeners(IOptions<GatewayOptions> options)
{
    public ListenOptions? Ws { get; set; }

    public ListenOptions? Wss { get; set; }

    public ListenOptions? Tls { get; set; }

    public ListenOptions? Internal { get; set; }

    /// <summary>The shared DTLS listener's bound UDP port; 0 when it is off.</summary>
    public int DtlsPort { get; set; }

    public int WsPort => PortOf(Ws);

    public int WssPort => PortOf(Wss);

    public int TlsPort => PortOf(Tls);

    public int InternalPort => PortOf(Internal);

    public bool IsInternal(int localPort) => Internal is not null && localPort == InternalPort;

    public string InternalUrl =>
        options.Value.InternalUrl is { Length: > 0 } configured
            ? configured
            : string.Create(CultureInfo.InvariantCulture, $"http://{FormatHost(options.Value.InternalAddress)}:{InternalPort}");

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

    private static string FormatHost(string address) =>
        IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address;
}
