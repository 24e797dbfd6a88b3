using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Silo.Audit;

namespace Platform.Silo.Tenants.Grains;

/// <summary>What a change decided inside the tenant write routine: refuse (roll back), leave as is, or commit with an audit entry.</summary>
internal sealed record TenantEdit(TenantProblem? Problem, AuditEntry? Audit, object? Answer, bool Stamp, bool Commit)
{
    public static TenantEdit Refuse(ProblemHttpResult problem) => new(TenantProblem.From(problem), null, null, false, false);

    public static TenantEdit Unchanged(object? answer = null) => new(null, null, answer, false, false);

    /// <summary>
    /// Commits the change with <paramref name="audit"/> (null: a change nothing records, such as a display name set to itself). With <paramref name="stamp"/> the routine stamps the tenant with
    /// the write's revision (changes that create or remove the row, or set it themselves, pass false).
    /// </summary>
    public static TenantEdit Changed(AuditEntry? audit, object? answer = null, bool stamp = true) => new(null, audit, answer, stamp, true);
}
