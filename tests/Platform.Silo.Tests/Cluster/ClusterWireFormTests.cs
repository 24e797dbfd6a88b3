using System.Reflection;
using Platform.Cluster;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// The wire form gateways and silos speak, pinned: during a rolling upgrade a gateway of one build talks to a silo of
/// the next, and a call one side cannot read fails on the other (a gateway whose batch of connection events went as
/// <c>Immutable&lt;T&gt;</c> to a silo expecting the JSON-coded type got a serialization error back). Every method of
/// the two grain interfaces (alias, parameter types, result) and every Orleans-serialized type of
/// <c>Platform.Cluster</c> (alias, base, field ids and types) is listed here; the shapes of <c>Platform.Contracts</c>
/// travel as JSON, which tolerates added fields. A change to this list is a change of the wire form: keep the old
/// method or field beside the new one for one release, then update the list.
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

    [Fact]
    public void GatewayLinkAndObserver_SpeakThePinnedWireForm()
    {
        var actual = Describe().ToArray();

        Assert.True(
            Expected.SequenceEqual(actual),
            "The wire form between gateways and silos changed (see this class's summary). Now:\n" + string.Join("\n", actual.Select(line => $"        \"{line}\",")));
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

    /// <summary>The member's own alias (a record's base carries its own, which is not inherited on the wire).</summary>
    private static string Alias(MemberInfo member) => member.GetCustomAttribute<AliasAttribute>(inherit: false)?.Alias ?? $"<no alias> {member.Name}";

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Namespace}.{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.FullName ?? type.Name;
}
