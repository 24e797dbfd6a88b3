using System.Collections.Frozen;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.HostNames;
using Platform.Contracts.Tenants;
using Platform.Silo.Tenants;

namespace Platform.Silo.OpenApi;

/// <summary>
/// The string members of the contracts that take one of a fixed set of values (the constants classes beside them),
/// declared as enums, so clients see the choices and the API is held to them; and a connection's metadata, which its own
/// JSON converter writes, declared as the object of bounded strings it is.
/// </summary>
internal sealed class ApiSchemaTransformer : IOpenApiSchemaTransformer
{
    private static readonly FrozenDictionary<(Type, string), string[]> Choices = new Dictionary<(Type, string), string[]>
    {
        [(typeof(TenantResponse), "status")] = [TenantStatuses.Active, TenantStatuses.Suspended],
        [(typeof(AllocatePortRequest), "protocol")] = [DedicatedPortProtocols.Tcp, DedicatedPortProtocols.Tls, DedicatedPortProtocols.Dtls],
        [(typeof(DedicatedPortResponse), "protocol")] = [DedicatedPortProtocols.Tcp, DedicatedPortProtocols.Tls, DedicatedPortProtocols.Dtls],
        [(typeof(ConnectionResponse), "protocol")] =
            [ConnectionProtocols.Tcp, ConnectionProtocols.Tls, ConnectionProtocols.Ws, ConnectionProtocols.Wss, ConnectionProtocols.Dtls],
        [(typeof(HostNameResponse), "status")] = [HostNameStatuses.Verified, HostNameStatuses.Pending],
        [(typeof(HostNameResponse), "sources")] = [HostNameSources.Platform, HostNameSources.Config, HostNameSources.Certificate],
        [(typeof(HostNameResponse), "verifiedBy")] = [HostNameVerifiers.Dns, HostNameVerifiers.Operator, HostNameVerifiers.Platform],
        [(typeof(GatewayResponse), "status")] = [GatewayStatuses.Up, GatewayStatuses.Draining, GatewayStatuses.Stopped, GatewayStatuses.Dead],
        [(typeof(SiloResponse), "status")] =
            [SiloStatuses.Created, SiloStatuses.Joining, SiloStatuses.Active, SiloStatuses.ShuttingDown, SiloStatuses.Stopping, SiloStatuses.Dead],
        [(typeof(TenantConfig), "listeners")] = [.. ListenerProtocols.All],
        [(typeof(TlsConfig), "minProtocol")] = [TlsProtocols.Tls12, TlsProtocols.Tls13],
        [(typeof(TlsConfig), "clientCertificates")] = [ClientCertificateModes.None, ClientCertificateModes.Optional, ClientCertificateModes.Required],
        [(typeof(FramingConfig), "mode")] = [FramingModes.None, FramingModes.Line, FramingModes.Record],
        [(typeof(DeliveryConfig), "mode")] = [DeliveryModes.Echo, DeliveryModes.Forward, DeliveryModes.Webhook],
        [(typeof(ForwardConfig), "protocol")] = [ForwardProtocols.Tcp, ForwardProtocols.Tls, ForwardProtocols.Udp],
        [(typeof(ForwardConfig), "messageFraming")] =
            [MessageFramings.Raw, MessageFramings.Line, MessageFramings.LengthPrefix, MessageFramings.LengthPrefix16],
        [(typeof(ForwardConfig), "backendMessageType")] = [BackendMessageTypes.Binary, BackendMessageTypes.Text],
        [(typeof(ForwardConfig), "proxyProtocol")] = [ProxyProtocolVersions.None, ProxyProtocolVersions.V2],
    }.ToFrozenDictionary();

    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(context);
        if (context.JsonPropertyInfo is { } metadataProperty && metadataProperty.DeclaringType == typeof(ConnectionResponse) && metadataProperty.Name == "metadata")
        {
            // Written by its own converter (keys as given), so the schema is declared here: an object of bounded strings.
            schema.Type = JsonSchemaType.Object | JsonSchemaType.Null;
            schema.MaxProperties = ConnectionMetadata.MaxEntries;
            schema.AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = ConnectionMetadata.MaxValueLength };
            return Task.CompletedTask;
        }

        if (context.JsonPropertyInfo is not { } property || !Choices.TryGetValue((property.DeclaringType, property.Name), out var values))
        {
            return Task.CompletedTask;
        }

        // A list of choices (listeners, sources) constrains its items.
        var target = schema.Type?.HasFlag(JsonSchemaType.Array) == true ? schema.Items as OpenApiSchema : schema;
        if (target is null || target.Type?.HasFlag(JsonSchemaType.String) != true)
        {
            throw new InvalidOperationException($"{property.DeclaringType.Name}.{property.Name} is declared a choice but is not a string or a list of strings.");
        }

        target.Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))];
        if (target.Type.Value.HasFlag(JsonSchemaType.Null))
        {
            target.Enum.Add(null!);
        }

        return Task.CompletedTask;
    }
}
