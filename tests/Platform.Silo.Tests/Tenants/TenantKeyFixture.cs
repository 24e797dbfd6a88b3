using Dapper;
using Platform.Silo.Security;
using Platform.Testing;

namespace Platform.Silo.Tests.Tenants;

/// <summary>
/// Test fixture: issues a tenant-scoped API key by writing its row straight into <c>api_keys</c>,
/// the way the key endpoint stores it (SHA-256 of the secret), so tenant-scope tests do not depend on that endpoint.
/// </summary>
internal static class TenantKeyFixture
{
    public static async Task<string> CreateKeyAsync(SiloApp silo, Guid tenantId)
    {
        var (id, key, secret) = ApiKeyFormat.Create();
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
            VALUES (@id, @tenantId, 'test fixture', @prefix, @hash, now())
            """,
            new { id, tenantId, prefix = ApiKeyFormat.DisplayPrefix(id), hash = ApiKeyAuthenticationHandler.Hash(secret) });
        return key;
    }

    public static async Task<HttpClient> ClientForAsync(SiloApp silo, Guid tenantId) =>
        silo.ClientWith(await CreateKeyAsync(silo, tenantId));
}
