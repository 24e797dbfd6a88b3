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
}
