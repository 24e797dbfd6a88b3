using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.HostNames;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.HostNames;

/// <summary>
/// <c>/v1/tenants/{slug}/host-names</c>: the names a tenant claims, and their proof. A pending name is verified by
/// a DNS TXT record holding its token (<c>verify</c>, tenant keys and operators) or by an operator (<c>approve</c>);
/// either takes a revision so gateways start routing it.
/// </summary>
internal static partial class HostNamesApi
{
    public static RouteGroupBuilder MapHostNamesApi(this RouteGroupBuilder group)
    {
        var names = group.MapGroup("/tenants/{slug}/host-names").WithTags("Host names");
        names.MapGet("/", ListAsync)
            .WithName("ListHostNames")
            .WithSummary("List a tenant's host names")
            .WithDescription("Every name the tenant claims (its platform name, its configuration's host names, its certificates' DNS names), whether it routes, and the DNS challenge that proves a pending one.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.HostNames);
        names.MapPost("/{name}/verify", VerifyAsync)
            .WithName("VerifyHostName")
            .WithSummary("Verify a host name by DNS")
            .WithDescription("Looks up the TXT record `challengeRecord`; when it holds `challengeToken` the name is verified and gateways start routing it. Each tenant may start a limited number of checks per minute.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameUnverified, ErrorCodes.HostNameTaken)
            .Problem(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited)
            .ResponseHeader(StatusCodes.Status429TooManyRequests, "Retry-After", "Seconds until the tenant may start its next check.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.VerifiedHostName);
        names.MapPost("/{name}/approve", ApproveAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ApproveHostName")
            .WithSummary("Approve a host name")
            .WithDescription("The operator vouches for the tenant's control of the name; it is verified without DNS.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameTaken)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.VerifiedHostName with { VerifiedBy = HostNameVerifiers.Operator });
        return group;
    }

    private static Task<Results<Ok<Page<HostNameResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource,
            static (connection, tenant, from, count, ct) => HostNameStore.ListAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<Ok<HostNameResponse>, ProblemHttpResult>> VerifyAsync(
        string slug, string name, HttpContext context, IGrainFactory grains, NpgsqlDataSource dataSource,
        PublicSuffixList suffixes, ChallengeLookup lookup, CheckThrottle throttle, PlatformClock time, ILogger<ChallengeLookup> logger)
    {
        var ct = context.RequestAborted;
        name = HostNameClaims.Normalize(name);
        if (await grains.GetVisibleAsync(context, slug) is not { } tenant)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        // Claims and their challenges are read from SQL: the grain holds the names that route, not the pending ones.
        HostNameResponse? claim;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        {
            claim = await HostNameStore.GetAsync(connection, tenant.Id, name, null, ct);
        }

        if (claim is null)
        {
            return NotClaimed(name);
        }

        if (claim.Status == HostNameStatuses.Verified)
        {
            return TypedResults.Ok(claim);
        }

        if (suffixes.IsWildcardOverPublicSuffix(name))
        {
            return PublicSuffix(name);
        }

        if (!throttle.TryAcquire(tenant.Id, out var retryAfter))
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return ProblemResults.Problem(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many checks",
                $"This tenant may start a DNS check again in {Math.Ceiling(retryAfter.TotalSeconds)} s.");
        }

        // DNS is asked outside any transaction: a slow resolver holds no lock.
        var outcome = await lookup.CheckAsync(claim.ChallengeRecord!, claim.ChallengeToken!, ct);
        if (!outcome.Verified)
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            await HostNameStore.RecordCheckAsync(connection, tenant.Id, name, outcome.Detail, time.GetUtcNow(), ct);
            LogNotVerified(logger, tenant.Slug, name, outcome.Detail);
            return ProblemResults.Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameUnverified, "Host name not verified",
                $"{outcome.Detail} Publish a TXT record {claim.ChallengeRecord} with the value {claim.ChallengeToken} and check again.");
        }

        return await MarkVerifiedAsync(slug, name, claim.ChallengeToken, HostNameVerifiers.Dns, "host_name.verify", context, grains, logger);
    }

    private static async Task<Results<Ok<HostNameResponse>, ProblemHttpResult>> ApproveAsync(
        string slug, string name, HttpContext context, IGrainFactory grains, PublicSuffixList suffixes, ILogger<ChallengeLookup> logger)
    {
        name = HostNameClaims.Normalize(name);
        if (suffixes.IsWildcardOverPublicSuffix(name))
        {
            return PublicSuffix(name);
        }

        return await MarkVerifiedAsync(slug, name, expectedToken: null, HostNameVerifiers.Operator, "host_name.approve", context, grains, logger);
    }

    /// <summary>
    /// Through the tenant's grain, in one transaction: the claim verified, the routing names rebuilt, the audit entry, and a
    /// revision with its notification. Another tenant's verified names are checked again there, under the commit lock.
    /// </summary>
    private static async Task<Results<Ok<HostNameResponse>, ProblemHttpResult>> MarkVerifiedAsync(
        string slug, string name, string? expectedToken, string verifiedBy, string action, HttpContext context, IGrainFactory grains, ILogger logger)
    {
        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.VerifyHostNameAsync(context.Scope(), name, expectedToken, verifiedBy, action, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var verified = reply.Answer<HostNameResponse>();
        if (reply.Changed)
        {
            LogVerified(logger, slug, name, verifiedBy, reply.Tenant!.Row.Revision);
        }

        return TypedResults.Ok(verified);
    }

    private static ProblemHttpResult NotClaimed(string name) =>
        ProblemResults.NotFound($"The host name claim '{(name.Length <= 253 ? name : "?")}'");

    private static ProblemHttpResult PublicSuffix(string name) =>
        ProblemResults.Validation("name", FieldErrorCodes.PublicSuffix, HostNamePolicy.Explain(name));

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Tenant {Slug}: host name {Name} verified by {VerifiedBy}; revision {Revision}")]
    private static partial void LogVerified(ILogger logger, string slug, string name, string verifiedBy, long revision);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Tenant {Slug}: host name {Name} not verified: {Outcome}")]
    private static partial void LogNotVerified(ILogger logger, string slug, string name, string outcome);
}
