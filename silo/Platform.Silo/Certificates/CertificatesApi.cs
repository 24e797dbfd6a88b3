using System.Data.Common;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Certificates;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.HostNames;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Certificates;

/// <summary>
/// <c>/v1/tenants/{slug}/certificates</c>: server certificates a tenant's TLS, WSS and DTLS
/// connections are served with, chosen by SNI. Their DNS names are host-name claims (they route once
/// proven), so every change rebuilds the tenant's claims and bumps its revision for the gateways.
/// </summary>
internal static partial class CertificatesApi
{
    public static RouteGroupBuilder MapCertificatesApi(this RouteGroupBuilder group)
    {
        var certificates = group.MapGroup("/tenants/{slug}/certificates").WithTags("Certificates");
        certificates.MapPost("/", UploadAsync)
            .WithName("UploadCertificate")
            .WithSummary("Upload a server certificate")
            .WithDescription("A certificate chain with its private key, as PEM or as base64 PKCS#12. It must be valid now, allow TLS server authentication and name at least one DNS host; gateways choose it by SNI. Its names are host-name claims that route once verified. The private key is encrypted at rest and never returned.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, ErrorCodes.CertificateInvalid, ErrorCodes.CertificateNoPrivateKey,
                ErrorCodes.CertificateExpired, ErrorCodes.CertificateUsage, ErrorCodes.CertificateNoHostNames, ErrorCodes.CertificateKeyNotAllowed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameTaken, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.UploadCertificate)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.Certificate);
        certificates.MapGet("/", ListAsync)
            .WithName("ListCertificates")
            .WithSummary("List a tenant's certificates")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Certificates);
        certificates.MapGet("/{id}", GetAsync)
            .WithName("GetCertificate")
            .WithSummary("Get a certificate")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Certificate);
        certificates.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteCertificate")
            .WithSummary("Delete a certificate")
            .WithDescription("Gateways stop serving it; its names no longer count as claimed by it.");
        return group;
    }

    private static async Task<Results<Created<CertificateResponse>, ProblemHttpResult>> UploadAsync(
        string slug, UploadCertificateRequest request, HttpContext context, NpgsqlDataSource dataSource,
        CertificateStore store, PlatformOptions platform, PublicSuffixList suffixes, PlatformClock time, ILogger<CertificateStore> logger)
    {
        var cancellationToken = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Resolving first keeps a caller from spending the validation's key-derivation work on a tenant it cannot see.
        if (await TenantAccess.ResolveAsync(connection, context, slug) is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var now = time.GetUtcNow();
        // PostgreSQL keeps microseconds; answering with the stored value keeps creation and later reads equal.
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));
        if (!CertificateValidator.TryValidate(request, now, out var certificate, out var rejection, suffixes.IsWildcardOverPublicSuffix))
        {
            return Rejected(rejection);
        }

        var source = string.IsNullOrWhiteSpace(request.Pem) ? "pfx" : "pem";
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
            if (tenant is null)
            {
                return ProblemResults.NotFound($"Tenant '{slug}'");
            }

            if (await PlanQuotas.CheckCertificateAsync(connection, transaction, tenant.Id, certificate.HostNames, platform.Domain, cancellationToken) is { } exceeded)
            {
                return exceeded;
            }

            // The revision (and its commit-order lock) is taken before the host-name claims are touched, in
            // the same order as every other writer, so two writers racing for one name cannot deadlock.
            var revision = await ConfigRevisions.BumpTenantAsync(connection, transaction, tenant.Id, now, cancellationToken);
            var id = Guid.NewGuid();
            var response = await store.InsertAsync(connection, transaction, id, tenant.Id, certificate, now, cancellationToken);
            // Its names start pending (they route nothing until proven); only a name another tenant has verified is refused.
            var conflict = await RebuildClaimsAsync(connection, transaction, tenant, platform, now, cancellationToken);
            if (conflict is not null)
            {
                await transaction.RollbackAsync(cancellationToken);
                return ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail, source);
            }

            await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
                context.ActorName(), tenant.Id, tenant.Slug, "certificate.upload", id.ToString(), tenant.Revision, revision,
                new { thumbprint = response.Thumbprint, hostNames = response.HostNames }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogUploaded(logger, tenant.Slug, id, response.Thumbprint, certificate.ChainLength, revision);
            return TypedResults.Created($"/v1/tenants/{tenant.Slug}/certificates/{id}", response);
        }
        finally
        {
            certificate.ClearKey();
        }
    }

    private static Task<Results<Ok<Page<CertificateResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource,
            static (connection, tenant, from, count, ct) => CertificateStore.ListAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<Ok<CertificateResponse>, ProblemHttpResult>> GetAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var certificate = Guid.TryParse(id, out var certificateId)
            ? await CertificateStore.GetAsync(connection, tenant.Id, certificateId, context.RequestAborted)
            : null;
        return certificate is null ? ProblemResults.NotFound("The certificate") : TypedResults.Ok(certificate);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform, PlatformClock time,
        ILogger<CertificateStore> logger)
    {
        var cancellationToken = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var now = time.GetUtcNow();
        var revision = await ConfigRevisions.BumpTenantAsync(connection, transaction, tenant.Id, now, cancellationToken);
        var deleted = Guid.TryParse(id, out var certificateId)
            ? await CertificateStore.DeleteAsync(connection, transaction, tenant.Id, certificateId, cancellationToken)
            : null;
        if (deleted is null)
        {
            return ProblemResults.NotFound("The certificate");
        }

        // Removing names cannot collide with another tenant; a conflict here means the claims were already inconsistent.
        if (await RebuildClaimsAsync(connection, transaction, tenant, platform, now, cancellationToken) is { } conflict)
        {
            throw new InvalidOperationException($"Tenant {tenant.Id} holds host name '{conflict.Name}' that another tenant claims.");
        }

        await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
            context.ActorName(), tenant.Id, tenant.Slug, "certificate.delete", deleted.Id.ToString(), tenant.Revision, revision,
            new { thumbprint = deleted.Thumbprint, hostNames = deleted.HostNames }), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogDeleted(logger, tenant.Slug, deleted.Id, deleted.Thumbprint, revision);
        return TypedResults.NoContent();
    }

    private static async Task<HostNameConflict?> RebuildClaimsAsync(
        DbConnection connection, DbTransaction transaction, TenantRef tenant, PlatformOptions platform, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var configNames = await CertificateStore.ConfigHostNamesAsync(connection, transaction, tenant.Id, cancellationToken);
        return await HostNameClaims.RebuildAsync(connection, transaction, tenant.Id, tenant.Slug, platform.Domain, configNames, now, cancellationToken);
    }

    private static ProblemHttpResult Rejected(CertificateRejection rejection)
    {
        var title = rejection.Code switch
        {
            ErrorCodes.ValidationFailed => "Validation failed",
            ErrorCodes.CertificateNoPrivateKey => "Certificate has no matching private key",
            ErrorCodes.CertificateExpired => "Certificate not valid now",
            ErrorCodes.CertificateUsage => "Certificate not usable by a TLS server",
            ErrorCodes.CertificateNoHostNames => "Certificate names no host",
            ErrorCodes.CertificateKeyNotAllowed => "Certificate key type or size not allowed",
            _ => "Certificate invalid",
        };
        return ProblemResults.Problem(StatusCodes.Status400BadRequest, rejection.Code, title, rejection.Detail,
            [new FieldError(rejection.Field, rejection.FieldCode, rejection.Detail)]);
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
        Message = "Certificate {CertificateId} ({Thumbprint}, chain of {ChainLength}) uploaded for tenant {Slug}; revision {Revision}")]
    private static partial void LogUploaded(ILogger logger, string slug, Guid certificateId, string thumbprint, int chainLength, long revision);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information,
        Message = "Certificate {CertificateId} ({Thumbprint}) deleted from tenant {Slug}; revision {Revision}")]
    private static partial void LogDeleted(ILogger logger, string slug, Guid certificateId, string thumbprint, long revision);
}
