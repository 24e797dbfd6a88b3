using System.Net;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// A PROXY protocol header read from a load balancer: its <paramref name="Version"/> (1 or 2), its length in bytes, and
/// the client's and the address it reached as the load balancer saw them; both null for a v1 <c>UNKNOWN</c>, a v2
/// <c>LOCAL</c> (the balancer's own health check) or a v2 header with an unspecified family, where the connection's own
/// addresses stand.
/// </summary>
internal sealed record ProxyHeader(int Version, int Length, IPEndPoint? Source, IPEndPoint? Destination);
