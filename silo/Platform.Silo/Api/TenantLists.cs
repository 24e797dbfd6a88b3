using System.Data.Common;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Problems;
using Platform.Silo.Tenants;

namespace Platform.Silo.Api;

/// <summary>The shape every paged list of a tenant's resources shares: paging, tenant access, then the page.</summary>
internal static class TenantLists
{
    public static async Task<Results<Ok<Page<T>>, ProblemHttpResult>> ListAsync<T>(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource,
        Func<DbConnection, TenantRef, int, int, CancellationToken, Task<(IReadOnlyList<T> Items, long Total)>> load)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(load);
        var errors = new List<FieldError>();
        var (from, count) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var (items, total) = await load(connection, tenant, from, count, context.RequestAborted);
        return TypedResults.Ok(new Page<T>(items, total, from, count));
    }
}
