using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Platform.Contracts.Internal;
using Platform.Silo.Security;

namespace Platform.Silo.Internal;

/// <summary>
/// Decrypted certificate and PSK material for config snapshots. Kept apart from the snapshot builder so
/// that the certificate and PSK features can own how their material is stored.
/// </summary>
internal sealed class SnapshotSecretLoader(SecretProtector protector)
{
    public async Task<ILookup<Guid, CertificateMaterial>> LoadCertificatesAsync(
        DbConnection connection, DbTransaction transaction, Guid[] tenantIds, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<CertificateRow>(new CommandDefinition(
            """
            SELECT id AS Id, tenant_id AS TenantId, host_names AS HostNames, chain_pem AS ChainPem,
                   private_key_enc AS PrivateKeyEnc, not_after AS NotAfter
            FROM certificates WHERE tenant_id = ANY(@tenantIds)
            ORDER BY tenant_id, not_after DESC, id
            """,
            new { tenantIds }, transaction, cancellationToken: cancellationToken));
        return rows.ToLookup(r => r.TenantId, r => new CertificateMaterial(
            r.Id, r.HostNames, r.ChainPem, PrivateKeyPem(protector.Unprotect(r.PrivateKeyEnc, SecretPurposes.CertificateKey, r.Id)),
            new DateTimeOffset(DateTime.SpecifyKind(r.NotAfter, DateTimeKind.Utc))));
    }

    public async Task<ILookup<Guid, PskMaterial>> LoadPskIdentitiesAsync(
        DbConnection connection, DbTransaction transaction, Guid[] tenantIds, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<PskRow>(new CommandDefinition(
            """
            SELECT id AS Id, tenant_id AS TenantId, identity AS Identity, key_enc AS KeyEnc
            FROM psk_identities WHERE tenant_id = ANY(@tenantIds)
            ORDER BY tenant_id, identity
            """,
            new { tenantIds }, transaction, cancellationToken: cancellationToken));
        return rows.ToLookup(r => r.TenantId, r => new PskMaterial(
            r.Identity, Convert.ToHexStringLower(protector.Unprotect(r.KeyEnc, SecretPurposes.PskKey, r.Id))));
    }

    // The stored key is PKCS#8, either DER or already PEM armoured; gateways always get PEM.
    private static string PrivateKeyPem(byte[] plaintext)
    {
        var text = plaintext.AsSpan().StartsWith("-----BEGIN"u8) ? Encoding.ASCII.GetString(plaintext) : null;
        var pem = text ?? new string(PemEncoding.Write("PRIVATE KEY", plaintext));
        CryptographicOperations.ZeroMemory(plaintext);
        return pem;
    }

    // A class: text[] reads as System.Array, which Dapper can only cast into a property.
    private sealed class CertificateRow
    {
        public Guid Id { get; init; }
        public Guid TenantId { get; init; }
        public string[] HostNames { get; init; } = [];
        public string ChainPem { get; init; } = "";
        public byte[] PrivateKeyEnc { get; init; } = [];
        public DateTime NotAfter { get; init; }
    }

    private sealed record PskRow(Guid Id, Guid TenantId, string Identity, byte[] KeyEnc);
}
