using Dapper;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Tenants;

/// <summary>
/// Makes a suspended tenant read-only for its own keys: on every endpoint of the <c>/v1</c> group, a request other than
/// GET or HEAD made with a key of a suspended tenant answers <c>403 tenant_suspended</c> before the endpoint runs.
/// Operators are not affected (they suspend, resume, repair and delete). Applied once to the group, so an endpoint added
/// later is covered without a change here.
/// </summary>
internal sealed class SuspendedTenantWriteFilter(NpgsqlDataSource dataSource) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var method = http.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || http.User.IsOperator() || http.User.TenantScope() is not { } tenantId)
        {
            return await next(context);
        }

        await using (var connection = await dataSource.OpenConnectionAsync(http.RequestAborted))
        {
            var status = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT status FROM tenants WHERE id = @tenantId", new { tenantId }, cancellationToken: http.RequestAborted));
            if (status == TenantStatuses.Suspended)
            {
                return ProblemResults.Problem(StatusCodes.Status403Forbidden, ErrorCodes.TenantSuspended, "Tenant suspended",
                    "The tenant is suspended: its keys can read but not change anything until an operator resumes it.");
            }
        }

        return await next(context);
    }
}
