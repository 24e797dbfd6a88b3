using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Platform.Cluster;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// The wire form gateways and silos speak, pinned: during a rolling upgrade a gateway of one build talks to a silo of
/// the next, and a call one side cannot read fails on the other (a gateway whose batch of connection events went as
/// <c>Immutable&lt;T&gt;</c> to a silo expecting the JSON-coded type got a serialization error back). Listed here:
/// every method of the two grain interfaces (alias, parameter types, result), every Orleans-serialized type of
/// <c>Platform.Cluster</c> (alias, base, field ids and types), and every shape of <c>Platform.Contracts</c> those
/// carry as JSON (member names and types). A change to these lists is a change of the wire form. An Orleans method
/// or field that goes stays beside its successor for one release. A JSON member may be added (the cluster's codec
/// skips members it does not know, see <see cref="ClusterJsonTests"/>) when its absence, as a build one step older
/// writes it, means what that build meant; a JSON member that goes or is renamed stays beside its successor for one
/// release. Then update the lists.
/// </summary>
public sealed class ClusterWireFormTests
{
    private static readonly string[] Expected =
    [
        "platform.gateway.link.connection-events(Platform.Contracts.Internal.ConnectionEventBatch) -> System.Threading.Tasks.Task<System.Boolean>",
        "platform.gateway.link.heartbeat(Platform.Contracts.Internal.HeartbeatRequest, Platform.Cluster.IGatewayObserver) -> System.Threading.Tasks.Task<Platform.Contracts.Internal.HeartbeatResponse>",
        "platform.gateway.link.leases(Platform.Contracts.Internal.LeaseSyncRequest) -> System.Threading.Tasks.Task<Platform.Contracts.Internal.LeaseSyncResponse>",
        "platform.gateway.link.leave() -> System.Threading.Tasks.Task<System.Boolean>",
        "platform.gateway.link.register(Platform.Contracts.Internal.RegisterGatewayRequest, Platform.Cluster.IGatewayObserver) -> System.Threading.Tasks.Task<Platform.Contracts.Internal.RegisterGatewayResponse>",
        "platform.gateway.link.watch-config(System.Int64, System.Int32, System.Threading.CancellationToken) -> System.Threading.Tasks.Task<Platform.Contracts.Internal.ConfigWatchResponse>",
        "platform.gateway.link.webhook-report(Platform.Contracts.Internal.WebhookReport) -> System.Threading.Tasks.Task",
        "platform.gateway.observer.execute(Platform.Cluster.GatewayCommand) -> System.Threading.Tasks.Task<Platform.Cluster.GatewayCommandAnswer>",
        "platform.gateway.command.broadcast : Platform.Cluster.GatewayCommand { 0:System.Guid TenantId, 1:Platform.Contracts.Connections.SendMessageRequest Message }",
        "platform.gateway.command.disconnect : Platform.Cluster.GatewayCommand { 0:System.String ConnectionId, 1:Platform.Contracts.Connections.DisconnectRequest Request }",
        "platform.gateway.command.drain : Platform.Cluster.GatewayCommand { 0:Platform.Contracts.Gateways.DrainGatewayRequest Request }",
        "Platform.Cluster.GatewayCallStatus = Accepted 0, NotFound 1, Invalid 2, Unavailable 3",
        "platform.gateway.command {  }",
        "platform.gateway.command-answer { 0:Platform.Cluster.GatewayCallStatus Status, 1:System.Int64 Delivered, 2:System.Collections.Generic.IReadOnlyList<Platform.Contracts.Problems.FieldError> Errors }",
        "platform.gateway.request-rejected : System.Exception { 0:System.Collections.Generic.IReadOnlyList<Platform.Contracts.Problems.FieldError> Errors }",
        "platform.gateway.command.send : Platform.Cluster.GatewayCommand { 0:System.String ConnectionId, 1:Platform.Contracts.Connections.SendMessageRequest Message }",
        "platform.gateway.command.sync-leases : Platform.Cluster.GatewayCommand { 0:System.Collections.Generic.IReadOnlyList<System.Guid> TenantIds }",
    ];

    private static readonly string[] ExpectedJson =
    [
        "Platform.Contracts.Config.AccessConfig { allowedClients: System.String, blockedClients: System.String }",
        "Platform.Contracts.Config.DeliveryConfig { mode: System.String, forward: Platform.Contracts.Config.ForwardConfig, webhook: Platform.Contracts.Config.WebhookConfig }",
        "Platform.Contracts.Config.DtlsConfig { heartbeatIntervalSeconds: System.Int32, heartbeatTimeoutSeconds: System.Int32, connectionIds: Platform.Contracts.Config.DtlsConnectionIdConfig, rawPublicKeys: Platform.Contracts.Config.DtlsRawPublicKeyConfig }",
        "Platform.Contracts.Config.DtlsConnectionIdConfig { enabled: System.Boolean, length: System.Int32 }",
        "Platform.Contracts.Config.DtlsRawPublicKeyConfig { enabled: System.Boolean }",
        "Platform.Contracts.Config.ForwardConfig { host: System.String, port: System.Int32, protocol: System.String, connectTimeoutSeconds: System.Int32, messageFraming: System.String, backendMessageType: System.String, proxyProtocol: System.String }",
        "Platform.Contracts.Config.FramingConfig { mode: System.String, eol: System.String, maxLineLength: System.Int32, singleLineMode: System.Boolean, recordLength: System.Int32 }",
        "Platform.Contracts.Config.LimitsConfig { maxConnections: System.Int32, connectionsPerSecond: System.Int32, maxConnectionsPerClient: System.Int32, maxHalfOpenHandshakes: System.Int32, maxHalfOpenHandshakesPerClient: System.Int32 }",
        "Platform.Contracts.Config.SocketConfig { noDelay: System.Boolean, keepAlive: System.Boolean, keepAliveTimeSeconds: System.Int32, keepAliveIntervalSeconds: System.Int32, linger: System.Boolean }",
        "Platform.Contracts.Config.TenantConfig { limits: Platform.Contracts.Config.LimitsConfig, access: Platform.Contracts.Config.AccessConfig, timeouts: Platform.Contracts.Config.TimeoutsConfig, tls: Platform.Contracts.Config.TlsConfig, webSocket: Platform.Contracts.Config.WebSocketConfig, socket: Platform.Contracts.Config.SocketConfig, dtls: Platform.Contracts.Config.DtlsConfig, framing: Platform.Contracts.Config.FramingConfig, delivery: Platform.Contracts.Config.DeliveryConfig, listeners: System.Collections.Generic.IReadOnlyList<System.String>, hostNames: System.Collections.Generic.IReadOnlyList<System.String> }",
        "Platform.Contracts.Config.TimeoutsConfig { idleTimeoutSeconds: System.Int32, dtlsIdleTimeoutSeconds: System.Int32, handshakeTimeoutSeconds: System.Int32 }",
        "Platform.Contracts.Config.TlsConfig { minProtocol: System.String, cipherSuites: System.Collections.Generic.IReadOnlyList<System.String>, clientCertificates: System.String, clientCaCertificates: System.String }",
        "Platform.Contracts.Config.WebSocketConfig { allowedOrigins: System.Collections.Generic.IReadOnlyList<System.String>, subProtocols: System.Collections.Generic.IReadOnlyList<System.String>, maxMessageSize: System.Int32, pingIntervalSeconds: System.Int32, pongTimeoutSeconds: System.Int32, perMessageDeflate: System.Boolean }",
        "Platform.Contracts.Config.WebhookConfig { url: System.String, secret: System.String, hasSecret: System.Boolean, timeoutSeconds: System.Int32, connectDefault: System.String, batchMaxMessages: System.Int32, batchMaxBytes: System.Int32, batchDelayMilliseconds: System.Int32, backpressureTimeoutSeconds: System.Int32 }",
        "Platform.Contracts.Connections.DisconnectRequest { code: System.Int32, reason: System.String }",
        "Platform.Contracts.Connections.SendMessageRequest { text: System.String, binary: System.String }",
        "Platform.Contracts.Connections.TlsFacts { sni: System.String, protocol: System.String, cipherSuite: System.String, clientCertificateSubject: System.String, clientCertificateIssuer: System.String, clientCertificateThumbprint: System.String, clientCertificateAccepted: System.Nullable<System.Boolean>, pskIdentity: System.String, engine: System.String, connectionId: System.String, rawPublicKeyFingerprint: System.String }",
        "Platform.Contracts.Connections.WebSocketFacts { path: System.String, origin: System.String, subProtocol: System.String, host: System.String, compression: System.Boolean }",
        "Platform.Contracts.Gateways.DrainGatewayRequest { deadlineSeconds: System.Int32 }",
        "Platform.Contracts.Internal.CertificateMaterial { id: System.Guid, hostNames: System.Collections.Generic.IReadOnlyList<System.String>, certificateChainPem: System.String, privateKeyPem: System.String, notAfter: System.DateTimeOffset }",
        "Platform.Contracts.Internal.ConfigWatchResponse { revision: System.Int64, full: System.Boolean, tenants: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.TenantSnapshot>, removedTenantIds: System.Collections.Generic.IReadOnlyList<System.Guid> }",
        "Platform.Contracts.Internal.ConnectionClosed { counters: Platform.Contracts.Internal.ConnectionCounters, closedAt: System.DateTimeOffset, closeCode: System.Nullable<System.Int32>, closeReason: System.String }",
        "Platform.Contracts.Internal.ConnectionCounters { id: System.String, bytesIn: System.Int64, bytesOut: System.Int64, messagesIn: System.Int64, messagesOut: System.Int64, lastActivityAt: System.DateTimeOffset, remoteAddress: System.String, remotePort: System.Nullable<System.Int32> }",
        "Platform.Contracts.Internal.ConnectionEventBatch { opened: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.ConnectionOpened>, counters: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.ConnectionCounters>, closed: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.ConnectionClosed> }",
        "Platform.Contracts.Internal.ConnectionOpened { id: System.String, tenantId: System.Guid, protocol: System.String, remoteAddress: System.String, remotePort: System.Int32, localPort: System.Int32, openedAt: System.DateTimeOffset, tls: Platform.Contracts.Connections.TlsFacts, webSocket: Platform.Contracts.Connections.WebSocketFacts, metadata: System.Collections.Generic.IReadOnlyDictionary<System.String, System.String>, forwardTarget: System.String }",
        "Platform.Contracts.Internal.DedicatedPortSnapshot { port: System.Int32, protocol: System.String }",
        "Platform.Contracts.Internal.HeartbeatRequest { configRevision: System.Int64, openConnections: System.Int64, refusals: Platform.Contracts.Internal.RefusalBatch }",
        "Platform.Contracts.Internal.HeartbeatResponse { status: System.String, drainDeadline: System.Nullable<System.DateTimeOffset> }",
        "Platform.Contracts.Internal.LeaseGrant { tenantId: System.Guid, slots: System.Int32, maxConnections: System.Int32, reclaiming: System.Boolean }",
        "Platform.Contracts.Internal.LeaseSyncRequest { leases: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.LeaseWant> }",
        "Platform.Contracts.Internal.LeaseSyncResponse { leases: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.LeaseGrant> }",
        "Platform.Contracts.Internal.LeaseWant { tenantId: System.Guid, slots: System.Int32, inUse: System.Int32, held: System.Nullable<System.Int32>, waiting: System.Int32 }",
        "Platform.Contracts.Internal.PreviousWebhookSecret { secret: System.String, until: System.DateTimeOffset }",
        "Platform.Contracts.Internal.PskMaterial { identity: System.String, keyHex: System.String }",
        "Platform.Contracts.Internal.RawPublicKeyMaterial { id: System.Guid, fingerprint: System.String, subjectPublicKeyInfoBase64: System.String }",
        "Platform.Contracts.Internal.RefusalBatch { sequence: System.Int64, counts: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.RefusalDelta> }",
        "Platform.Contracts.Internal.RefusalDelta { minute: System.DateTimeOffset, tenant: System.String, protocol: System.String, reason: System.String, count: System.Int64 }",
        "Platform.Contracts.Internal.RegisterGatewayRequest { nodeId: System.String, version: System.String, listeners: System.Collections.Generic.IReadOnlyList<System.String> }",
        "Platform.Contracts.Internal.RegisterGatewayResponse { nodeId: System.String, heartbeatIntervalSeconds: System.Int32, heartbeatTimeoutSeconds: System.Int32 }",
        "Platform.Contracts.Internal.TenantSnapshot { id: System.Guid, slug: System.String, status: System.String, revision: System.Int64, config: Platform.Contracts.Config.TenantConfig, hostNames: System.Collections.Generic.IReadOnlyList<System.String>, dedicatedPorts: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.DedicatedPortSnapshot>, certificates: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.CertificateMaterial>, pskIdentities: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.PskMaterial>, rawPublicKeys: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.RawPublicKeyMaterial>, previousWebhookSecret: Platform.Contracts.Internal.PreviousWebhookSecret }",
        "Platform.Contracts.Internal.WebhookFailureFact { at: System.DateTimeOffset, event: System.String, kind: System.String, status: System.Nullable<System.Int32>, cause: System.String }",
        "Platform.Contracts.Internal.WebhookOutcomeDelta { hour: System.DateTimeOffset, tenantId: System.Guid, event: System.String, outcome: System.String, count: System.Int64 }",
        "Platform.Contracts.Internal.WebhookReport { reportId: System.Guid, counts: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.WebhookOutcomeDelta>, tenants: System.Collections.Generic.IReadOnlyList<Platform.Contracts.Internal.WebhookTenantFacts> }",
        "Platform.Contracts.Internal.WebhookTenantFacts { tenantId: System.Guid, lastFailure: Platform.Contracts.Internal.WebhookFailureFact, validation: Platform.Contracts.Internal.WebhookValidationFact }",
        "Platform.Contracts.Internal.WebhookValidationFact { at: System.DateTimeOffset, passed: System.Boolean, urlHash: System.String }",
        "Platform.Contracts.Problems.FieldError { field: System.String, code: System.String, message: System.String }",
    ];

    [Fact]
    public void GatewayLinkAndObserver_SpeakThePinnedWireForm() =>
        AssertPinned(Expected, Describe(), "The wire form between gateways and silos");

    [Fact]
    public void ContractsCarriedAsJson_KeepThePinnedShapes() =>
        AssertPinned(ExpectedJson, DescribeJson(), "The JSON shapes gateways and silos exchange");

    /// <summary>Fails with the list as it is now, ready to paste, when it differs from the pinned one.</summary>
    private static void AssertPinned(string[] expected, IEnumerable<string> described, string what)
    {
        var actual = described.ToArray();
        Assert.True(
            expected.SequenceEqual(actual),
            $"{what} changed (see this class's summary). Now:\n" + string.Join("\n", actual.Select(line => $"        \"{line}\",")));
    }

    private static IEnumerable<string> Describe()
    {
        foreach (var contract in new[] { typeof(IGatewayLinkGrain), typeof(IGatewayObserver) })
        {
            var prefix = Alias(contract);
            foreach (var method in contract.GetMethods().OrderBy(m => Alias(m), StringComparer.Ordinal))
            {
                var parameters = string.Join(", ", method.GetParameters().Select(p => Name(p.ParameterType)));
                yield return $"{prefix}.{Alias(method)}({parameters}) -> {Name(method.ReturnType)}";
            }
        }

        var serialized = typeof(IGatewayLinkGrain).Assembly.GetTypes()
            .Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (var type in serialized)
        {
            if (type.IsEnum)
            {
                yield return $"{Name(type)} = {string.Join(", ", Enum.GetNames(type).Select(n => $"{n} {Convert.ToInt64(Enum.Parse(type, n), System.Globalization.CultureInfo.InvariantCulture)}"))}";
                continue;
            }

            var fields = type.GetMembers(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Select(m => (Member: m, Id: m.GetCustomAttribute<IdAttribute>()))
                .Where(f => f.Id is not null)
                .OrderBy(f => f.Id!.Id)
                .Select(f => $"{f.Id!.Id}:{Name(f.Member is PropertyInfo p ? p.PropertyType : ((FieldInfo)f.Member).FieldType)} {f.Member.Name}");
            var baseType = type.BaseType is { } b && b != typeof(object) ? $" : {Name(b)}" : "";
            yield return $"{Alias(type)}{baseType} {{ {string.Join(", ", fields)} }}";
        }
    }

    /// <summary>
    /// Every type of <c>Platform.Contracts</c> a grain call of the link or the observer carries, directly or inside
    /// another, with its JSON members as the cluster's codec writes them (name and type) or, for an enumeration, its
    /// names as written.
    /// </summary>
    private static IEnumerable<string> DescribeJson()
    {
        var options = Platform.Contracts.PlatformJson.Tolerant;
        var contracts = typeof(Platform.Contracts.PlatformJson).Assembly;
        var seen = new SortedDictionary<string, Type>(StringComparer.Ordinal);
        var pending = new Queue<Type>(Roots());
        while (pending.TryDequeue(out var type))
        {
            foreach (var inner in Unwrap(type))
            {
                if (inner.Assembly == contracts && seen.TryAdd(Name(inner), inner))
                {
                    if (!inner.IsEnum)
                    {
                        foreach (var property in options.GetTypeInfo(inner).Properties)
                        {
                            pending.Enqueue(property.PropertyType);
                        }
                    }
                }
            }
        }

        foreach (var (name, type) in seen)
        {
            if (type.IsEnum)
            {
                var names = Enum.GetValues(type).Cast<object>().Select(v => JsonSerializer.Serialize(v, type, options).Trim('"'));
                yield return $"{name} = {string.Join(" | ", names)}";
                continue;
            }

            var info = options.GetTypeInfo(type);
            var members = info.Kind == JsonTypeInfoKind.Object
                ? string.Join(", ", info.Properties.Select(p => $"{p.Name}: {Name(p.PropertyType)}{(p.IsRequired ? " (required)" : "")}"))
                : $"as {info.Kind}";
            yield return $"{name} {{ {members} }}";
        }

        static IEnumerable<Type> Roots()
        {
            foreach (var contract in new[] { typeof(IGatewayLinkGrain), typeof(IGatewayObserver) })
            {
                foreach (var method in contract.GetMethods())
                {
                    foreach (var parameter in method.GetParameters())
                    {
                        yield return parameter.ParameterType;
                    }

                    yield return method.ReturnType;
                }
            }

            foreach (var type in typeof(IGatewayLinkGrain).Assembly.GetTypes().Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is not null))
            {
                foreach (var member in type.GetMembers(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (member.GetCustomAttribute<IdAttribute>() is not null)
                    {
                        yield return member is PropertyInfo p ? p.PropertyType : ((FieldInfo)member).FieldType;
                    }
                }
            }
        }

        // A type and what it is made of: generic arguments (lists, dictionaries, tasks, nullables) and array elements.
        static IEnumerable<Type> Unwrap(Type type)
        {
            yield return type;
            var parts = type.IsArray ? [type.GetElementType()!] : type.IsGenericType ? type.GetGenericArguments() : [];
            foreach (var part in parts)
            {
                foreach (var inner in Unwrap(part))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>The member's own alias (a record's base carries its own, which is not inherited on the wire).</summary>
    private static string Alias(MemberInfo member) => member.GetCustomAttribute<AliasAttribute>(inherit: false)?.Alias ?? $"<no alias> {member.Name}";

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Namespace}.{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.FullName ?? type.Name;
}
