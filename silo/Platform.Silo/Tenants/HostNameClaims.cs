using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Npgsql;
using Platform.Contracts.HostNames;
using Platform.Silo.Data;

namespace Platform.Silo.Tenants;

/// <summary>
/// Keeps a tenant's claimed names (<c>host_names</c>) equal to what it asks for (its own <c>{slug}.{domain}</c>,
/// the config's host names, its certificates' DNS names), and <c>host_name_claims</c> equal to the ones that
/// route: the verified ones. Names at or under the tenant's own platform name are verified by the platform; other
/// names under the platform domain are never claimed from certificates (the config refuses them); every other
/// name starts pending with its own random challenge token and routes nothing until it is proven.
/// <para>
/// Callers run this inside a transaction that has already taken a revision (<see cref="ConfigRevisions.NextAsync"/>),
/// whose commit lock serialises every writer of claims: the conflict checks here cannot race another tenant's
/// claim or verification.
/// </para>
/// </summary>
internal static class HostNameClaims
{
    /// <summary>Bytes of a challenge token (256 bits), written as lower-case hex.</summary>
    public const int TokenBytes = 32;

    /// <summary>
    /// Rebuilds the tenant's claims. Returns the first new name another tenant's verified names forbid (the
    /// change must then be rolled back), or null when the claims and the routing names were rebuilt.
    /// </summary>
    public static async Task<HostNameConflict?> RebuildAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string slug, string domain,
        IEnumerable<string> configHostNames, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configHostNames);
        var certificateNames = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT unnest(host_names) FROM certificates WHERE tenant_id = @tenantId",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        var platformDomain = domain.ToLowerInvariant();
        var own = $"{slug}.{platformDomain}";
        var wanted = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        Want(wanted, own, HostNameSources.Platform);
        foreach (var name in configHostNames)
        {
            Want(wanted, Normalize(name), HostNameSources.Config);
        }

        foreach (var name in certificateNames.Select(Normalize))
        {
            // A certificate for another tenant's platform name (or a wildcard over the domain) loads, but routes nothing.
            if (IsOwn(name, own) || !IsUnderDomain(name, platformDomain))
            {
                Want(wanted, name, HostNameSources.Certificate);
            }
        }

        var existing = (await connection.QueryAsync<ClaimRow>(new CommandDefinition(
            "SELECT host_name AS HostName, sources AS Sources, status AS Status FROM host_names WHERE tenant_id = @tenantId FOR UPDATE",
            new { tenantId }, transaction, cancellationToken: cancellationToken))).ToDictionary(r => r.HostName, StringComparer.Ordinal);

        foreach (var (name, sourceSet) in wanted)
        {
            var sources = sourceSet.ToArray();
            var platformOwned = IsOwn(name, own);
            if (existing.TryGetValue(name, out var row))
            {
                if (platformOwned && row.Status != HostNameStatuses.Verified)
                {
                    await SetVerifiedAsync(connection, transaction, tenantId, name, HostNameVerifiers.Platform, now, cancellationToken);
                }

                if (!row.Sources.SequenceEqual(sources, StringComparer.Ordinal))
                {
                    await connection.ExecuteAsync(new CommandDefinition(
                        "UPDATE host_names SET sources = @sources WHERE tenant_id = @tenantId AND host_name = @name",
                        new { tenantId, name, sources }, transaction, cancellationToken: cancellationToken));
                }

                continue;
            }

            if (platformOwned)
            {
                await InsertAsync(connection, transaction, tenantId, name, sources, HostNameStatuses.Verified, null,
                    now, HostNameVerifiers.Platform, now, cancellationToken);
                continue;
            }

            if (await FindConflictAsync(connection, transaction, tenantId, name, cancellationToken) is { } conflict)
            {
                return conflict;
            }

            await InsertAsync(connection, transaction, tenantId, name, sources, HostNameStatuses.Pending, NewToken(),
                null, null, now, cancellationToken);
        }

        var gone = existing.Keys.Where(n => !wanted.ContainsKey(n)).ToArray();
        if (gone.Length > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM host_names WHERE tenant_id = @tenantId AND host_name = ANY(@gone)",
                new { tenantId, gone }, transaction, cancellationToken: cancellationToken));
        }

        return await SyncRoutingAsync(connection, transaction, tenantId, cancellationToken);
    }

    /// <summary>
    /// The first of the other tenants' verified names that forbids <paramref name="tenantId"/> to hold
    /// <paramref name="name"/>: the same name, a wildcard <c>*.parent</c> over it (a wildcard covers every name
    /// ending in <c>.parent</c>, at any depth), or, when <paramref name="name"/> is a wildcard, a name it covers.
    /// </summary>
    public static async Task<HostNameConflict?> FindConflictAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string name, CancellationToken cancellationToken)
    {
        var exact = await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE host_name = @name AND tenant_id <> @tenantId",
            new { name, tenantId }, transaction, cancellationToken: cancellationToken));
        if (exact is not null)
        {
            return new HostNameConflict(name, $"Host name '{name}' is verified by another tenant.");
        }

        var covering = await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE host_name = ANY(@wildcards) AND tenant_id <> @tenantId ORDER BY length(host_name) LIMIT 1",
            new { wildcards = CoveringWildcards(name), tenantId }, transaction, cancellationToken: cancellationToken));
        if (covering is not null)
        {
            return new HostNameConflict(name, $"Host name '{name}' is under '{covering}', which another tenant has verified.");
        }

        if (!name.StartsWith("*.", StringComparison.Ordinal))
        {
            return null;
        }

        // Every name ending in ".parent": a prefix of the reversed name, which host_name_claims_reversed_idx serves.
        var pattern = EscapeLike(new string(name[1..].Reverse().ToArray())) + "%";
        var covered = await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE reverse(host_name) LIKE @pattern AND tenant_id <> @tenantId ORDER BY host_name LIMIT 1",
            new { pattern, tenantId }, transaction, cancellationToken: cancellationToken));
        return covered is null
            ? null
            : new HostNameConflict(name, $"The wildcard '{name}' covers '{covered}', which another tenant has verified.");
    }

    /// <summary>Marks a pending claim verified; false when the tenant holds no such claim.</summary>
    public static async Task<bool> SetVerifiedAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string name, string verifiedBy, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE host_names
            SET status = 'verified', verified_at = @now, verified_by = @verifiedBy, last_check = NULL,
                last_check_at = CASE WHEN @verifiedBy = 'dns' THEN @now ELSE last_check_at END
            WHERE tenant_id = @tenantId AND host_name = @name
            """,
            new { tenantId, name, verifiedBy, now }, transaction, cancellationToken: cancellationToken)) == 1;

    /// <summary>
    /// Makes <c>host_name_claims</c> hold exactly the tenant's verified names. A unique violation (another tenant
    /// holds one of them) is reported as a conflict; the commit lock makes it unreachable in practice.
    /// </summary>
    public static async Task<HostNameConflict?> SyncRoutingAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM host_name_claims WHERE tenant_id = @tenantId", new { tenantId }, transaction, cancellationToken: cancellationToken));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO host_name_claims (host_name, tenant_id)
                SELECT host_name, tenant_id FROM host_names WHERE tenant_id = @tenantId AND status = 'verified'
                """,
                new { tenantId }, transaction, cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.IsUniqueViolation())
        {
            var name = e.Detail is { } detail && detail.IndexOf("=(", StringComparison.Ordinal) is var start and >= 0
                ? detail[(start + 2)..].Split(')')[0]
                : "?";
            return new HostNameConflict(name, $"Host name '{name}' is verified by another tenant.");
        }

        return null;
    }

    /// <summary>Every routing name of a tenant, sorted.</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(DbConnection connection, Guid tenantId, DbTransaction? transaction, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE tenant_id = @tenantId ORDER BY host_name",
            new { tenantId }, transaction, cancellationToken: cancellationToken))).AsList();

    /// <summary>True for the platform domain itself and every name under it, wildcards included.</summary>
    public static bool IsUnderDomain(string name, string platformDomain) =>
        string.Equals(name, platformDomain, StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("." + platformDomain, StringComparison.OrdinalIgnoreCase);

    /// <summary>True for the tenant's own platform name and every name under it.</summary>
    public static bool IsOwn(string name, string ownPlatformName) => IsUnderDomain(name, ownPlatformName);

    /// <summary>Lower case, without a trailing dot.</summary>
    public static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>The wildcards that would cover <paramref name="name"/>: <c>*.b.c</c> and <c>*.c</c> for <c>a.b.c</c> (and for <c>*.b.c</c> itself).</summary>
    public static string[] CoveringWildcards(string name)
    {
        var result = new List<string>();
        for (var dot = name.IndexOf('.', StringComparison.Ordinal); dot >= 0; dot = name.IndexOf('.', dot + 1))
        {
            if (dot > 0)
            {
                result.Add("*" + name[dot..]);
            }
        }

        return [.. result.Where(w => !string.Equals(w, name, StringComparison.Ordinal))];
    }

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TokenBytes));

    private static void Want(SortedDictionary<string, SortedSet<string>> wanted, string name, string source)
    {
        if (!wanted.TryGetValue(name, out var sources))
        {
            wanted[name] = sources = new SortedSet<string>(StringComparer.Ordinal);
        }

        sources.Add(source);
    }

    private static async Task InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string name, string[] sources, string status, string? token,
        DateTimeOffset? verifiedAt, string? verifiedBy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO host_names (tenant_id, host_name, sources, status, challenge_token, verified_at, verified_by, created_at)
            VALUES (@tenantId, @name, @sources, @status, @token, @verifiedAt, @verifiedBy, @now)
            """,
            new { tenantId, name, sources, status, token, verifiedAt, verifiedBy, now }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Claiming host name {name} for tenant {tenantId} wrote {rows} rows.");
        }
    }

    private static string EscapeLike(string value) =>
        value.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    private sealed class ClaimRow
    {
        public string HostName { get; init; } = "";

        public string[] Sources { get; init; } = [];

        public string Status { get; init; } = "";
    }
}

/// <summary>A name the tenant may not hold, and why (names another tenant's verified name).</summary>
internal sealed record HostNameConflict(string Name, string Detail);

/// <summary>Values of <c>host_names.verified_by</c>.</summary>
internal static class HostNameVerifiers
{
    public const string Dns = "dns";
    public const string Operator = "operator";
    public const string Platform = "platform";
}
