using System.Net;
using System.Net.Sockets;
using Platform.Contracts.Config;
using Platform.Gateway.Egress;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Delivery;

/// <summary>Creates the delivery a tenant's configuration asks for; forward backends are reached through the <see cref="EgressConnector"/>.</summary>
internal sealed class DeliveryFactory(EgressConnector egress)
{
    /// <summary>
    /// Creates the delivery; throws <see cref="BackendUnreachableException"/> when a forward target cannot be reached
    /// or is forbidden, and <see cref="NotSupportedException"/> for a mode this gateway cannot serve.
    /// </summary>
    public async ValueTask<IDelivery> CreateAsync(TenantRuntime tenant, ConnectionFacts facts, bool messageProtocol, CancellationToken cancellationToken)
    {
        var delivery = tenant.Config.Delivery;
        switch (delivery.Mode)
        {
            case DeliveryModes.Echo:
                return new EchoDelivery();
            case DeliveryModes.Forward when delivery.Forward is { } forward:
                return await ForwardDelivery.ConnectAsync(
                    egress,
                    tenant.Slug,
                    forward,
                    ProxyHeader(forward, facts, datagram: false),
                    messageProtocol ? forward.MessageFraming : MessageFramings.Raw,
                    tenant.Config.Framing.Eol,
                    messageProtocol && forward.BackendMessageType == BackendMessageTypes.Text,
                    cancellationToken);
            default:
                throw new NotSupportedException($"Delivery mode '{delivery.Mode}' is not served by this gateway.");
        }
    }

    /// <summary>Whether this gateway can serve the tenant's delivery mode (decided before a handshake is accepted).</summary>
    public static bool IsServed(TenantRuntime tenant) => tenant.Config.Delivery switch
    {
        { Mode: DeliveryModes.Echo } => true,
        { Mode: DeliveryModes.Forward, Forward: not null } => true,
        _ => false,
    };

    /// <summary>
    /// Creates the delivery for a datagram client (DTLS): <c>forward</c> over UDP keeps datagram boundaries; over
    /// TCP or TLS each datagram is framed per <see cref="ForwardConfig.MessageFraming"/> and replies come back in
    /// datagrams of at most <paramref name="maxDatagram"/> bytes. Throws as <see cref="CreateAsync"/> does.
    /// </summary>
    public async ValueTask<IDelivery> CreateForDatagramsAsync(TenantRuntime tenant, ConnectionFacts facts, int maxDatagram, CancellationToken cancellationToken)
    {
        var delivery = tenant.Config.Delivery;
        switch (delivery.Mode)
        {
            case DeliveryModes.Echo:
                return new EchoDelivery();
            case DeliveryModes.Forward when delivery.Forward is { Protocol: ForwardProtocols.Udp } forward:
                return await UdpForwardDelivery.ConnectAsync(egress, tenant.Slug, forward, maxDatagram, cancellationToken);
            case DeliveryModes.Forward when delivery.Forward is { } forward:
                return await ForwardDelivery.ConnectAsync(
                    egress, tenant.Slug, forward, ProxyHeader(forward, facts, datagram: true), forward.MessageFraming, tenant.Config.Framing.Eol,
                    textToClient: false, cancellationToken, maxDatagram);
            default:
                throw new NotSupportedException($"Delivery mode '{delivery.Mode}' is not served by this gateway.");
        }
    }

    private static byte[]? ProxyHeader(ForwardConfig forward, ConnectionFacts facts, bool datagram)
    {
        if (forward.ProxyProtocol != ProxyProtocolVersions.V2)
        {
            return null;
        }

        if (facts.Local.Address.Equals(IPAddress.Any) || facts.Local.Address.Equals(IPAddress.IPv6Any))
        {
            // A datagram listener bound to every address does not learn which one a client reached; the address the host
            // answers that client from (its route's source, found without sending anything) is the one the client sees.
            var client = facts.Client.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(facts.Client.Address.MapToIPv4(), facts.Client.Port) : facts.Client;
            using var probe = new Socket(client.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                probe.Connect(client);
                facts = facts with { Local = new IPEndPoint(((IPEndPoint)probe.LocalEndPoint!).Address, facts.Local.Port) };
            }
            catch (SocketException)
            {
                // No route back to the client now: the header names the listener's bound address, the one fact known.
            }
        }

        return ProxyProtocolHeader.Build(facts, datagram);
    }
}
