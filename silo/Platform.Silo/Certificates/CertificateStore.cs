using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Platform.Contracts.Certificates;
using Platform.Contracts.Internal;
using Platform.Silo.Security;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.Certificates;

/// <summary>
/// Rows of <c>certificates</c>. The private key is stored as PKCS#8 encrypted under the master key,
/// bound to the certificate id; it leaves this class only through <see cref="LoadMaterialAsync(DbConnection, Guid, DbTransaction?, CancellationToken)"/>,
/// for the gateways' config snapshot.
/// </summary>
internal sealed class CertificateStore(SecretProtector protector)
{
    private const string Columns = """
        id AS Id, subject AS Subject, issuer AS Issuer, thumbprint AS Thumbprint, host_names AS HostNames,
        not_before AS NotBefore, not_after AS NotAfter, key_algorithm AS KeyAlgorithm, created_at AS CreatedAt
        """;

    /// <summary>The certificate as it is stored, its private key encrypted for the new certificate id.</summary>
    public CertificateRecord Seal(ValidatedCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var id = Guid.NewGuid();
        return new CertificateRecord(id, certificate.Subject, certificate.Issuer, certificate.Thumbprint, [.. certificate.HostNames],
            certificate.NotBefore, certificate.NotAfter, certificate.KeyAlgorithm, certificate.ChainPem,
            protector.Protect(certificate.PrivateKeyPkcs8, SecretPurposes.CertificateKey, id), certificate.ChainLength);
    }

    public static async Task<CertificateResponse> InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, CertificateRecord certificate,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO certificates (id, tenant_id, subject, issuer, thumbprint, host_names, not_before, not_after,
                                      key_algorithm, chain_pem, private_key_enc, created_at)
            VALUES (@Id, @tenantId, @Subject, @Issuer, @Thumbprint, @hostNames, @NotBefore, @NotAfter,
                    @KeyAlgorithm, @ChainPem, @PrivateKeyEnc, @now)
            """,
            new
            {
                certificate.Id,
                tenantId,
                certificate.Subject,
                certificate.Issuer,
                certificate.Thumbprint,
                hostNames = certificate.HostNames.ToArray(),
                certificate.NotBefore,
                certificate.NotAfter,
                certificate.KeyAlgorithm,
                certificate.ChainPem,
                certificate.PrivateKeyEnc,
                now,
            },
            transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Inserting certificate {certificate.Id} affected {rows} rows.");
        }

        return new CertificateResponse(certificate.Id, certificate.Subject, certificate.Issuer, certificate.Thumbprint, certificate.HostNames,
            certificate.NotBefore, certificate.NotAfter, certificate.KeyAlgorithm, now);
    }

    public static async Task<(IReadOnlyList<CertificateResponse> Items, long Total)> ListAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM certificates WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<CertificateRow>(new CommandDefinition(
            $"""
            SELECT {Columns}
            FROM certificates WHERE tenant_id = @tenantId
            ORDER BY created_at, id
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(r => r.ToResponse()).ToList(), total);
    }

    public static async Task<CertificateResponse?> GetAsync(DbConnection connection, Guid tenantId, Guid id, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<CertificateRow>(new CommandDefinition(
            $"SELECT {Columns} FROM certificates WHERE tenant_id = @tenantId AND id = @id",
            new { tenantId, id }, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>Deletes the certificate and returns what it was, or null when the tenant has no such certificate.</summary>
    public static async Task<CertificateResponse?> DeleteAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, Guid id, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<CertificateRow>(new CommandDefinition(
            $"DELETE FROM certificates WHERE tenant_id = @tenantId AND id = @id RETURNING {Columns}",
            new { tenantId, id }, transaction, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>
    /// The custom host names of the tenant's current configuration, which together with the
    /// certificates' names make up its host-name claims.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ConfigHostNamesAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT jsonb_array_elements_text(c.config->'hostNames')
            FROM tenant_configs c
            JOIN tenants t ON t.id = c.tenant_id AND t.config_revision = c.revision
            WHERE c.tenant_id = @tenantId AND jsonb_typeof(c.config->'hostNames') = 'array'
            """,
            new { tenantId }, transaction, cancellationToken: cancellationToken))).AsList();

    /// <summary>
    /// Every certificate of the tenant with its decrypted private key as PKCS#8 PEM, newest upload
    /// first (latest expiry first). Expired certificates are included; <see cref="CertificateMaterial.NotAfter"/> lets the
    /// reader choose. For the internal config snapshot only.
    /// </summary>
    public async Task<IReadOnlyList<CertificateMaterial>> LoadMaterialAsync(
        DbConnection connection, Guid tenantId, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var all = await LoadMaterialAsync(connection, [tenantId], transaction, cancellationToken);
        return all.TryGetValue(tenantId, out var list) ? list : [];
    }

    /// <summary>
    /// <see cref="LoadMaterialAsync(DbConnection, Guid, DbTransaction?, CancellationToken)"/> for many
    /// tenants in one query (full snapshots); tenants without certificates are absent from the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<CertificateMaterial>>> LoadMaterialAsync(
        DbConnection connection, IReadOnlyCollection<Guid> tenantIds, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        var rows = await connection.QueryAsync<MaterialRow>(new CommandDefinition(
            """
            SELECT id AS Id, tenant_id AS TenantId, host_names AS HostNames, chain_pem AS ChainPem,
                   private_key_enc AS PrivateKeyEnc, not_after AS NotAfter
            FROM certificates
            WHERE tenant_id = ANY(@tenantIds)
            ORDER BY tenant_id, not_after DESC, id
            """,
            new { tenantIds = tenantIds.ToArray() }, transaction, cancellationToken: cancellationToken));
        var result = new Dictionary<Guid, IReadOnlyList<CertificateMaterial>>();
        foreach (var group in rows.GroupBy(r => r.TenantId))
        {
            result[group.Key] = group.Select(Decrypt).ToList();
        }

        return result;
    }

    private CertificateMaterial Decrypt(MaterialRow row)
    {
        var pkcs8 = protector.Unprotect(row.PrivateKeyEnc, SecretPurposes.CertificateKey, row.Id);
        try
        {
            return new CertificateMaterial(row.Id, row.HostNames, row.ChainPem, PemEncoding.WriteString("PRIVATE KEY", pkcs8), Utc(row.NotAfter));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    // Classes with setters rather than positional records: Dapper reports text[] columns as System.Array,
    // which matches no constructor signature, while property assignment converts it.
    private sealed class CertificateRow
    {
        public Guid Id { get; init; }

        public string Subject { get; init; } = "";

        public string Issuer { get; init; } = "";

        public string Thumbprint { get; init; } = "";

        public string[] HostNames { get; init; } = [];

        public DateTime NotBefore { get; init; }

        public DateTime NotAfter { get; init; }

        public string KeyAlgorithm { get; init; } = "";

        public DateTime CreatedAt { get; init; }

        public CertificateResponse ToResponse() =>
            new(Id, Subject, Issuer, Thumbprint, HostNames, Utc(NotBefore), Utc(NotAfter), KeyAlgorithm, Utc(CreatedAt));
    }

    private sealed class MaterialRow
    {
        public Guid Id { get; init; }

        public Guid TenantId { get; init; }

        public string[] HostNames { get; init; } = [];

        public string ChainPem { get; init; } = "";

        public byte[] PrivateKeyEnc { get; init; } = [];

        public DateTime NotAfter { get; init; }
    }
}
