using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Silo.Data;
using Platform.Silo.Security;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

/// <summary>
/// Test-only shortcuts for the internal API tests: tenants, keys and secrets inserted directly as
/// 0001_initial.sql lays them out, and gateway calls with the cluster secret.
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

    public static HttpClient GatewayClient(this SiloApp silo) => silo.ClientWith(silo.ClusterSecret);

    public static async Task<RegisterGatewayResponse> RegisterGatewayAsync(this SiloApp silo, string nodeId, string internalUrl = "http://127.0.0.1:1")
    {
        var response = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Register,
            new RegisterGatewayRequest(nodeId, "1.0.0", internalUrl, ["ws:8080"]), PlatformJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<RegisterGatewayResponse>(PlatformJson.Options))!;
    }

    public static async Task<HttpResponseMessage> HeartbeatAsync(this SiloApp silo, string nodeId, long revision = 0, long open = 0) =>
        await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Path(InternalRoutes.Heartbeat, nodeId),
            new HeartbeatRequest(revision, open), PlatformJson.Options);

    public static async Task<HttpResponseMessage> SendEventsAsync(this SiloApp silo, string nodeId, ConnectionEventBatch batch) =>
        await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Path(InternalRoutes.ConnectionEvents, nodeId), batch, PlatformJson.Options);

    public static async Task<LeaseSyncResponse> SyncLeasesAsync(this SiloApp silo, string nodeId, params LeaseWant[] wants)
    {
        var response = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Path(InternalRoutes.Leases, nodeId),
            new LeaseSyncRequest(wants), PlatformJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<LeaseSyncResponse>(PlatformJson.Options))!;
    }

    public static async Task<ConfigWatchResponse> WatchAsync(this SiloApp silo, long after, int waitSeconds = 0, CancellationToken cancellationToken = default)
    {
        var response = await silo.GatewayClient().GetAsync(
            new Uri($"{InternalRoutes.ConfigWatch}?after={after}&waitSeconds={waitSeconds}", UriKind.Relative), cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<ConfigWatchResponse>(PlatformJson.Options, cancellationToken))!;
    }

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
