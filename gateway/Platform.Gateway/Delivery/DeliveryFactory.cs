using Platform.Contracts.Config;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Delivery;

/// <summary>Creates the delivery a tenant's configuration asks for.</summary>
internal static class DeliveryFactory
{
    /// <summary>
    /// Creates the delivery; throws <see cref="BackendUnreachableException"/> when a forward target
    /// cannot be reached and <see cref="NotSupportedException"/> for a mode this gateway cannot serve.
    /// </summary>
    public static async ValueTask<IDelivery> CreateAsync(TenantRuntime tenant, bool messageProtocol, CancellationToken cancellationToken)
    {
        var delivery = tenant.Config.Delivery;
        switch (delivery.Mode)
        {
            case DeliveryModes.Echo:
                return new EchoDelivery();
            case DeliveryModes.Forward when delivery.Forward is { } forward:
                return await ForwardDelivery.ConnectAsync(
                    forward,
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
    public static async ValueTask<IDelivery> CreateForDatagramsAsync(TenantRuntime tenant, int maxDatagram, CancellationToken cancellationToken)
    {
        var delivery = tenant.Config.Delivery;
        switch (delivery.Mode)
        {
            case DeliveryModes.Echo:
                return new EchoDelivery();
            case DeliveryModes.Forward when delivery.Forward is { Protocol: ForwardProtocols.Udp } forward:
                return await UdpForwardDelivery.ConnectAsync(forward, maxDatagram, cancellationToken);
            case DeliveryModes.Forward when delivery.Forward is { } forward:
                return await ForwardDelivery.ConnectAsync(forward, forward.MessageFraming, tenant.Config.Framing.Eol, textToClient: false, cancellationToken, maxDatagram);
            default:
                throw new NotSupportedException($"Delivery mode '{delivery.Mode}' is not served by this gateway.");
        }
    }
}
