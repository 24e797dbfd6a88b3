using System.Net;
using System.Net.Sockets;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;
using Platform.Gateway.Egress;
using Platform.Gateway.Tenants;
using Platform.Gateway.Webhooks;

namespace Platform.Gateway.Delivery;

/// <summary>
/// Creates the delivery a tenant's configuration asks for; forward backends are reached through the
/// <see cref="EgressConnector"/>; <c>webhook</c> first asks the tenant's webhook (the connect event), whose answer may
/// refuse the connection (<see cref="ConnectionRejectedException"/>) or send it to a forward target of its choosing.
/// </summary>
internal sealed class DeliveryFactory(EgressConnector egress, WebhookDispatcher webhooks)
{
    /// <summary>
    /// Creates the delivery; throws <see cref="BackendUnreachableException"/> when a forward target cannot be reached
    /// or is forbidden, <see cref="ConnectionRejectedException"/> when the webhook refuses the connection, and
    /// <see cref="NotSupportedException"/> for a mode this gateway cannot serve.
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
            case DeliveryModes.Webhook when IsSigned(delivery.Webhook):
                return await WebhookAsync(tenant, delivery.Webhook!, facts, messageProtocol ? MessageFramingOf(tenant) : MessageFramings.Raw, messageProtocol, null, cancellationToken);
            default:
                throw new NotSupportedException($"Delivery mode '{delivery.Mode}' is not served by this gateway.");
        }
    }

    /// <summary>
    /// Whether this gateway can serve the tenant's delivery mode (decided before a handshake is accepted): <c>webhook</c>
    /// needs a URL and a signing secret, since nothing is sent unsigned.
    /// </summary>
    public static bool IsServed(TenantRuntime tenant) => tenant.Config.Delivery switch
    {
        { Mode: DeliveryModes.Echo } => true,
        { Mode: DeliveryModes.Forward, Forward: not null } => true,
        { Mode: DeliveryModes.Webhook, Webhook: var webhook } => IsSigned(webhook),
        _ => false,
    };

    private static bool IsSigned(WebhookConfig? webhook) => webhook is { Url.Length: > 0, Secret.Length: > 0 };

    private static string MessageFramingOf(TenantRuntime tenant) => tenant.Config.Delivery.Forward?.MessageFraming ?? MessageFramings.Raw;

    /// <summary>
    /// The connect event and what its answer decides: a refusal, a forward target (the WebSocketProxy's per-connection
    /// ForwardHost / ForwardPort, through the egress policy like the tenant's own), or the webhook's message delivery.
    /// </summary>
    private async ValueTask<IDelivery> WebhookAsync(
        TenantRuntime tenant, WebhookConfig webhook, ConnectionFacts facts, string messageFraming, bool textToClient, int? maxDatagram, CancellationToken cancellationToken)
    {
        var decision = await webhooks.ConnectAsync(tenant, webhook, facts, cancellationToken);
        if (decision.Failure is not null)
        {
            if (webhook.ConnectDefault != WebhookConnectDefaults.Accept)
            {
                throw new ConnectionRejectedException(RefusalReason.WebhookUnavailable, UnavailableStatus, null);
            }

            decision = ConnectDecision.Accepted();
        }

        if (!decision.Accept)
        {
            throw new ConnectionRejectedException(RefusalReason.WebhookRejected, decision.Status, decision.Reason);
        }

        if (decision.Forward is { } target)
        {
            // The tenant's own forward settings (framing, timeouts, PROXY header) apply to the target the webhook chose.
            var forward = (tenant.Config.Delivery.Forward ?? new ForwardConfig()) with { Host = target.Host, Port = target.Port, Protocol = target.Protocol };
            ForwardDelivery delivery;
            try
            {
                delivery = await ForwardDelivery.ConnectAsync(
                    egress, tenant.Slug, forward, ProxyHeader(forward, facts, datagram: maxDatagram is not null), messageFraming, tenant.Config.Framing.Eol,
                    textToClient && forward.BackendMessageType == BackendMessageTypes.Text, cancellationToken, maxDatagram);
            }
            catch (BackendUnreachableException ex)
            {
                webhooks.ForwardOutcome(tenant, webhook, forbidden: ex.Refusal == RefusalReason.BackendForbidden);
                throw;
            }

            webhooks.ForwardOutcome(tenant, webhook, forbidden: false);
            delivery.SubProtocol = decision.SubProtocol;
            delivery.Metadata = decision.Metadata;
            return delivery;
        }

        return webhooks.Open(tenant, webhook, facts, decision);
    }

    /// <summary>What a refused WebSocket client reads when the webhook gave no usable answer.</summary>
    private const int UnavailableStatus = 503;

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
            case DeliveryModes.Webhook when IsSigned(delivery.Webhook):
                return await WebhookAsync(tenant, delivery.Webhook!, facts, MessageFramingOf(tenant), textToClient: false, maxDatagram, cancellationToken);
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
