using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Silo.Data;
using Platform.Silo.Security;
using Platform.Silo.Tests.Gateways;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

/// <summary>
/// Test-only shortcuts for the gateway-facing tests: tenants, keys and secrets inserted directly as
/// 0001_initial.sql lays them out, and a gateway's calls through its link grain (<see cref="IGatewayLinkGrain"/>).
/// </summary>
internal static class InternalTestFixture
{
    public static async Task<Guid> InsertTenantRowsAsync(
        SiloApp silo, string slug, int maxConnections = 1000, TenantConfig? config = null, string? webhookSecret = null)
    {
        var id = Guid.NewGuid();
        var protector = silo.Services.GetRequiredService<SecretProtector>();
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var revision = await ConfigRevisions.NextAsync(connection, transaction, CancellationToken.None);
        await connection.ExecuteAsync(
            """
            INSERT INTO tenants (id, slug, display_name, status, revision, config_revision, max_connections, created_at, updated_at)
            VALUES (@id, @slug, @slug, 'active', @revision, @revision, @maxConnections, now(), now());
            INSERT INTO tenant_configs (tenant_id, revision, config, webhook_secret_enc, actor, created_at)
            VALUES (@id, @revision, @config::jsonb, @secret, 'test', now());
            INSERT INTO host_name_claims (host_name, tenant_id) VALUES (@hostName, @id);
            """,
            new
            {
                id,
                slug,
                revision,
                maxConnections,
                config = JsonSerializer.Serialize(config ?? new TenantConfig(), PlatformJson.Options),
                secret = webhookSecret is null ? null : protector.Protect(webhookSecret, SecretPurposes.WebhookSecret, id),
                hostName = $"{slug}.platform.test",
            },
            transaction);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, CancellationToken.None);
        await transaction.CommitAsync();
        return id;
    }

    /// <summary>A change gateways must see: bumps the tenant's revision like any config write.</summary>
    public static async Task<long> TouchTenantAsync(SiloApp silo, Guid tenantId)
    {
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var revision = await ConfigRevisions.BumpTenantAsync(connection, transaction, tenantId, DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
        return revision;
    }

    public static async Task<long> DeleteTenantRowsAsync(SiloApp silo, Guid tenantId)
    {
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var revision = await ConfigRevisions.NextAsync(connection, transaction, CancellationToken.None);
        await connection.ExecuteAsync(
            """
            DELETE FROM tenants WHERE id = @tenantId;
            INSERT INTO tenant_tombstones (tenant_id, revision, deleted_at) VALUES (@tenantId, @revision, now());
            """,
            new { tenantId, revision }, transaction);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, CancellationToken.None);
        await transaction.CommitAsync();
        return revision;
    }

    /// <summary>Inserts a tenant API key and returns the bearer value.</summary>
    public static async Task<string> InsertTenantKeyAsync(SiloApp silo, Guid tenantId)
    {
        var (id, key, secret) = ApiKeyFormat.Create();
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
            VALUES (@id, @tenantId, 'test', @prefix, @hash, now())
            """,
            new { id, tenantId, prefix = ApiKeyFormat.DisplayPrefix(id), hash = ApiKeyAuthenticationHandler.Hash(secret) });
        return key;
    }

    public static async Task<T> QueryScalarAsync<T>(SiloApp silo, string sql, object? parameters = null)
    {
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public static async Task ExecuteAsync(SiloApp silo, string sql, object? parameters = null)
    {
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>The grain a gateway with this node id calls, reached through the silo's own grain factory.</summary>
    public static IGatewayLinkGrain Link(this SiloApp silo, string nodeId) =>
        silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IGatewayLinkGrain>(nodeId);

    /// <summary>A gateway observer behind this silo; dispose it to take it away.</summary>
    public static FakeGateway NewGateway(this SiloApp silo) => new(silo.Services.GetRequiredService<IGrainFactory>());

    /// <summary>
    /// Registers the node with <paramref name="gateway"/> as its observer, or with the one it registered with before, or
    /// with a new one that lives as long as the silo; its heartbeats pass the same observer.
    /// </summary>
    public static Task<RegisterGatewayResponse> RegisterGatewayAsync(this SiloApp silo, string nodeId, FakeGateway? gateway = null)
    {
        var nodes = Gateways.GetOrCreateValue(silo);
        gateway = gateway is null ? nodes.GetOrAdd(nodeId, _ => silo.NewGateway()) : nodes[nodeId] = gateway;
        return silo.Link(nodeId).RegisterAsync(new RegisterGatewayRequest(nodeId, "1.0.0", ["ws:8080"]), gateway.Reference);
    }

    /// <summary>The observer the node registered with (a new one for a node that never registered).</summary>
    public static FakeGateway GatewayOf(this SiloApp silo, string nodeId) =>
        Gateways.GetOrCreateValue(silo).GetOrAdd(nodeId, _ => silo.NewGateway());

    /// <summary>A heartbeat; null is the old 404 <c>gateway_unknown</c>: the node must register again.</summary>
    public static Task<HeartbeatResponse?> HeartbeatAsync(this SiloApp silo, string nodeId, long revision = 0, long open = 0, RefusalBatch? refusals = null) =>
        silo.Link(nodeId).HeartbeatAsync(new HeartbeatRequest(revision, open, refusals), silo.GatewayOf(nodeId).Reference);

    /// <summary>Connection events; false when the node is not live.</summary>
    public static Task<bool> SendEventsAsync(this SiloApp silo, string nodeId, ConnectionEventBatch batch) =>
        silo.Link(nodeId).PostConnectionEventsAsync(batch);

    /// <summary>A lease sync of a live node.</summary>
    public static async Task<LeaseSyncResponse> SyncLeasesAsync(this SiloApp silo, string nodeId, params LeaseWant[] wants) =>
        await silo.Link(nodeId).SyncLeasesAsync(new LeaseSyncRequest(wants)) ?? throw new InvalidOperationException($"Gateway '{nodeId}' is not live.");

    /// <summary>A clean stop; false when the node was not live.</summary>
    public static Task<bool> LeaveAsync(this SiloApp silo, string nodeId) => silo.Link(nodeId).LeaveAsync();

    /// <summary>A config watch as a gateway that never registered sends it (the watch does not depend on registration).</summary>
    public static Task<ConfigWatchResponse> WatchAsync(this SiloApp silo, long after, int waitSeconds = 0, CancellationToken cancellationToken = default) =>
        silo.Link("gw-watch").WatchConfigAsync(after, waitSeconds, cancellationToken);

    private static readonly ConditionalWeakTable<SiloApp, ConcurrentDictionary<string, FakeGateway>> Gateways = new();

    public static ConnectionOpenedBuilder Opened(string id, Guid tenantId) => new(id, tenantId);

    /// <summary>Builds a ConnectionOpened with plausible defaults.</summary>
    internal sealed class ConnectionOpenedBuilder(string id, Guid tenantId)
    {
        public ConnectionOpened Ws(DateTimeOffset? at = null) => new(
            id, tenantId, "wss", "192.0.2.10", 50123, 8443, at ?? DateTimeOffset.UtcNow,
            new Platform.Contracts.Connections.TlsFacts("acme.platform.test", "TLSv1.3", "TLS_AES_128_GCM_SHA256", null, null, null, null, null),
            new Platform.Contracts.Connections.WebSocketFacts("/t/acme/", "https://app.example", "chat", "acme.platform.test", true));
    }
}
