using System.Net;

namespace Platform.Gateway.Egress;

/// <summary>Turns a tenant's backend host name into addresses for <see cref="EgressConnector"/>, which checks each one.</summary>
internal interface IEgressResolver
{
    /// <summary>The name's addresses; throws <see cref="System.Net.Sockets.SocketException"/> when it does not resolve.</summary>
    Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken);
}
