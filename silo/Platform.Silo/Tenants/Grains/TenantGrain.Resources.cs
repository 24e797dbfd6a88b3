using System.Data.Common;
using System.Globalization;
using Dapper;
using Platform.Contracts.HostNames;
using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Audit;
using Platform.Silo.Certificates;
using Platform.Silo.HostNames;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Psk;

namespace Platform.Silo.Tenants.Grains;

/// <summary>What the tenant owns besides its configuration: dedicated ports, certificates, PSK identities, host-name proof.</summary>
internal sealed partial class TenantGrain
{
    public Task<TenantReply> AllocatePortAsync(Guid? scope, string protocol, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            if (await PlanQuotas.CheckCreateAsync(connection, transaction, tenant.Id, PlanResource.DedicatedPorts, ct) is { } exceeded)
            {
                return TenantEdit.Refuse(exceeded);
            }

            var port = await TryAllocateAsync(connection, transaction, tenant.Id, protocol, platform.DedicatedPortFirst, platform.DedicatedPortLast,
                write.Now, TimeSpan.FromHours(platform.PortCooldownHours), ct);
            if (port is null)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.PortsExhausted,
                    $"Every dedicated port from {platform.DedicatedPortFirst} to {platform.DedicatedPortLast} is allocated or cooling down after another tenant released it."));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "port.allocate", port.Value.ToString(CultureInfo.InvariantCulture),
                    RevisionBefore: tenant.Row.Revision, RevisionAfter: write.Revision, Details: new { protocol }),
                new DedicatedPortResponse(port.Value, protocol, write.Now));
        });

    public Task<TenantReply> ReleasePortAsync(Guid? scope, int port, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            var protocol = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
                "DELETE FROM dedicated_ports WHERE tenant_id = @tenantId AND port = @port RETURNING protocol",
                new { tenantId = tenant.Id, port }, transaction, cancellationToken: ct));
            if (protocol is null)
            {
                return TenantEdit.Refuse(ProblemResults.NotFound($"Dedicated port {port} of tenant '{tenant.Slug}'"));
            }

            await PortCooldowns.ReleaseAsync(connection, transaction, tenant.Id, port, write.Now, ct);
            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "port.release", port.ToString(CultureInfo.InvariantCulture),
                    RevisionBefore: tenant.Row.Revision, RevisionAfter: write.Revision, Details: new { protocol }));
        });

    public Task<TenantReply> UploadCertificateAsync(Guid? scope, CertificateRecord certificate, string source, string actor)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            if (await PlanQuotas.CheckCertificateAsync(connection, transaction, tenant.Id, certificate.HostNames, platform.Domain, ct) is { } exceeded)
            {
                return TenantEdit.Refuse(exceeded);
            }

            // PostgreSQL keeps microseconds; answering with the stored value keeps creation and later reads equal.
            var response = await CertificateStore.InsertAsync(connection, transaction, tenant.Id, certificate, Microseconds(write.Now), ct);
            // Its names start pending (they route nothing until proven); only a name another tenant has verified is refused.
            if (await RebuildClaimsAsync(write, platform.Domain) is { } conflict)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail, source));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "certificate.upload", certificate.Id.ToString(), tenant.Row.Revision, write.Revision,
                    new { thumbprint = response.Thumbprint, hostNames = response.HostNames }),
                response);
        });
    }

    public Task<TenantReply> DeleteCertificateAsync(Guid? scope, Guid? certificateId, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var deleted = certificateId is { } id
                ? await CertificateStore.DeleteAsync(write.Connection, write.Transaction, tenant.Id, id, write.CancellationToken)
                : null;
            if (deleted is null)
            {
                return TenantEdit.Refuse(ProblemResults.NotFound("The certificate"));
            }

            // Removing names cannot collide with another tenant; a conflict here means the claims were already inconsistent.
            if (await RebuildClaimsAsync(write, platform.Domain) is { } conflict)
            {
                throw new InvalidOperationException($"Tenant {tenant.Id} holds host name '{conflict.Name}' that another tenant claims.");
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "certificate.delete", deleted.Id.ToString(), tenant.Row.Revision, write.Revision,
                    new { thumbprint = deleted.Thumbprint, hostNames = deleted.HostNames }),
                deleted);
        });

    public Task<TenantReply> CreatePskAsync(Guid? scope, Guid id, string identity, byte[] keyEnc, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            if (await PlanQuotas.CheckCreateAsync(connection, transaction, tenant.Id, PlanResource.PskIdentities, ct) is { } exceeded)
            {
                return TenantEdit.Refuse(exceeded);
            }

            var now = Microseconds(write.Now);
            if (!await PskStore.InsertAsync(connection, transaction, id, tenant.Id, identity, keyEnc, now, ct))
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.PskIdentityTaken,
                    $"The tenant already has a PSK identity '{identity}'.", "identity"));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "psk.create", id.ToString(), tenant.Row.Revision, write.Revision, new { identity }),
                new PskIdentityResponse(id, identity, $"{tenant.Slug}/{identity}", now));
        });

    public Task<TenantReply> DeletePskAsync(Guid? scope, Guid? id, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var deleted = id is { } identityId
                ? await PskStore.DeleteAsync(write.Connection, write.Transaction, tenant.Id, identityId, write.CancellationToken)
                : null;
            if (deleted is null)
            {
                return TenantEdit.Refuse(ProblemResults.NotFound("The PSK identity"));
            }

            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "psk.delete", deleted.Id.ToString(), tenant.Row.Revision, write.Revision,
                    new { identity = deleted.Identity }),
                deleted.ToResponse(tenant.Slug));
        });

    public Task<TenantReply> VerifyHostNameAsync(Guid? scope, string name, string? expectedToken, string verifiedBy, string action, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            // The commit lock the routine took with the revision serialises this check with every other claim.
            var claim = await HostNameStore.GetAsync(connection, tenant.Id, name, transaction, ct);
            if (claim is null)
            {
                return TenantEdit.Refuse(ProblemResults.NotFound($"The host name claim '{(name.Length <= 253 ? name : "?")}'"));
            }

            if (claim.Status == HostNameStatuses.Verified)
            {
                return TenantEdit.Unchanged(claim);
            }

            if (expectedToken is not null && !string.Equals(claim.ChallengeToken, expectedToken, StringComparison.Ordinal))
            {
                return TenantEdit.Refuse(ProblemResults.Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameUnverified, "Host name not verified",
                    "The claim was replaced while DNS was checked; its token changed. Read the host names again and check once more."));
            }

            if (await HostNameClaims.FindConflictAsync(connection, transaction, tenant.Id, name, ct) is { } conflict)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail, "name"));
            }

            await HostNameClaims.SetVerifiedAsync(connection, transaction, tenant.Id, name, verifiedBy, write.Now, ct);
            if (await HostNameClaims.SyncRoutingAsync(connection, transaction, tenant.Id, ct) is { } clash)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, clash.Detail, "name"));
            }

            var verified = await HostNameStore.GetAsync(connection, tenant.Id, name, transaction, ct)
                ?? throw new InvalidOperationException($"Host name {name} of tenant {tenant.Id} vanished inside its own transaction.");
            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, action, name, tenant.Row.Revision, write.Revision, new { verifiedBy }),
                verified);
        });

    public Task<TenantReply> ReconcileHostNamesAsync(string domain) =>
        WriteAsync(null, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            if (await RebuildClaimsAsync(write, domain) is { } conflict)
            {
                // New names start pending and never conflict; a clash here means routing rows another silo wrote meanwhile.
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail));
            }

            return TenantEdit.Changed(
                new AuditEntry("system", tenant.Id, tenant.Slug, "host_name.reconcile", tenant.Slug, tenant.Row.Revision, write.Revision, new { domain }));
        });

    private static async Task<HostNameConflict?> RebuildClaimsAsync(TenantWriteContext write, string domain)
    {
        var tenant = write.Existing;
        var configNames = await CertificateStore.ConfigHostNamesAsync(write.Connection, write.Transaction, tenant.Id, write.CancellationToken);
        return await HostNameClaims.RebuildAsync(write.Connection, write.Transaction, tenant.Id, tenant.Slug, domain, configNames, write.Now, write.CancellationToken);
    }

    private static DateTimeOffset Microseconds(DateTimeOffset now) => now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));

    /// <summary>
    /// Claims the lowest free port that is not cooling down after another tenant released it (the
    /// release and its cool-down row commit together, so no statement sees the one without the other).
    /// ON CONFLICT DO NOTHING makes a port taken concurrently by another tenant's allocation come back
    /// empty instead of aborting the transaction; the next attempt (a new statement, so a new snapshot)
    /// then sees that port as taken and moves on.
    /// </summary>
    private static async Task<int?> TryAllocateAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string protocol, int first, int last,
        DateTimeOffset now, TimeSpan cooldown, CancellationToken cancellationToken)
    {
        var coolingSince = now - cooldown;
        for (var attempt = 0; attempt <= last - first; attempt++)
        {
            var free = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                """
                SELECT p FROM generate_series(@first, @last) AS p
                WHERE NOT EXISTS (SELECT 1 FROM dedicated_ports d WHERE d.port = p)
                  AND NOT EXISTS (SELECT 1 FROM port_cooldowns c
                                  WHERE c.port = p AND c.tenant_id <> @tenantId AND c.released_at > @coolingSince)
                ORDER BY p LIMIT 1
                """,
                new { first, last, tenantId, coolingSince }, transaction, cancellationToken: cancellationToken));
            if (free is null)
            {
                return null;
            }

            var claimed = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                """
                INSERT INTO dedicated_ports (port, tenant_id, protocol, created_at)
                VALUES (@port, @tenantId, @protocol, @now)
                ON CONFLICT (port) DO NOTHING
                RETURNING port
                """,
                new { port = free.Value, tenantId, protocol, now }, transaction, cancellationToken: cancellationToken));
            if (claimed is not null)
            {
                return claimed;
            }
        }

        return null;
    }
}
