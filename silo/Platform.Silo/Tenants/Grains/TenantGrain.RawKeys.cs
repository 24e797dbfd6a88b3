using System.Globalization;
using Platform.Contracts.Problems;
using Platform.Contracts.RawKeys;
using Platform.Silo.Audit;
using Platform.Silo.Problems;
using Platform.Silo.RawKeys;

namespace Platform.Silo.Tenants.Grains;

/// <summary>The DTLS client raw public keys the tenant trusts: added and deleted like PSK identities, each change a revision.</summary>
internal sealed partial class TenantGrain
{
    public Task<TenantReply> CreateRawPublicKeyAsync(Guid? scope, Guid id, string? name, ParsedRawPublicKey key, string actor)
    {
        ArgumentNullException.ThrowIfNull(key);
        return WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            // The write routine holds the tenant row locked, so no other creation commits between this count and the insert.
            var held = await RawPublicKeyStore.CountAsync(connection, transaction, tenant.Id, ct);
            if (held >= platform.MaxRawPublicKeysPerTenant)
            {
                var limit = platform.MaxRawPublicKeysPerTenant.ToString(CultureInfo.InvariantCulture);
                var message = $"The platform allows {limit} raw public keys per tenant (Platform:MaxRawPublicKeysPerTenant); the tenant holds {held}.";
                return TenantEdit.Refuse(ProblemResults.Problem(StatusCodes.Status409Conflict, ErrorCodes.QuotaExceeded, "Quota exceeded", message,
                    [new FieldError("rawPublicKeys", ErrorCodes.QuotaExceeded, message)]));
            }

            var now = Microseconds(write.Now);
            if (!await RawPublicKeyStore.InsertAsync(connection, transaction, id, tenant.Id, name, key, now, ct))
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.RawPublicKeyTaken,
                    $"The tenant already trusts the key with fingerprint {key.Fingerprint}.", "key"));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "raw_public_key.create", id.ToString(), tenant.Row.Revision, write.Revision,
                    new { fingerprint = key.Fingerprint, algorithm = key.Algorithm, name }),
                new RawPublicKeyResponse(id, name, key.Fingerprint, key.Algorithm, now));
        });
    }

    public Task<TenantReply> DeleteRawPublicKeyAsync(Guid? scope, RawPublicKeyRef? key, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var deleted = key is not null
                ? await RawPublicKeyStore.DeleteAsync(write.Connection, write.Transaction, tenant.Id, key, write.CancellationToken)
                : null;
            if (deleted is null)
            {
                return TenantEdit.Refuse(ProblemResults.NotFound("The raw public key"));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "raw_public_key.delete", deleted.Id.ToString(), tenant.Row.Revision, write.Revision,
                    new { fingerprint = deleted.Fingerprint, algorithm = deleted.Algorithm, name = deleted.Name }),
                deleted);
        });
}
