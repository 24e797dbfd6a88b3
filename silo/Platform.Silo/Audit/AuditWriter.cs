using System.Data.Common;
using System.Text.Json;
using Dapper;
using Platform.Contracts;

namespace Platform.Silo.Audit;

/// <summary>One audit entry, written in the same transaction as the change it records.</summary>
internal sealed record AuditEntry(
    string Actor,
    Guid? TenantId,
    string? TenantSlug,
    string Action,
    string? Target = null,
    long? RevisionBefore = null,
    long? RevisionAfter = null,
    object? Details = null);

internal static class AuditWriter
{
    public static Task WriteAsync(DbConnection connection, DbTransaction transaction, AuditEntry entry, DateTimeOffset at, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO audit_log (at, actor, tenant_id, tenant_slug, action, target, revision_before, revision_after, details)
            VALUES (@at, @Actor, @TenantId, @TenantSlug, @Action, @Target, @RevisionBefore, @RevisionAfter, @details::jsonb)
            """,
            new
            {
                at,
                entry.Actor,
                entry.TenantId,
                entry.TenantSlug,
                entry.Action,
                entry.Target,
                entry.RevisionBefore,
                entry.RevisionAfter,
                details = entry.Details is null ? null : JsonSerializer.Serialize(entry.Details, PlatformJson.Options),
            },
            transaction,
            cancellationToken: cancellationToken));
}
