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
using Platform.Silo.Tenants.Grains;

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
        string slug, UploadCertificateRequest request, HttpContext context, IGrainFactory grains,
        CertificateStore store, PublicSuffixList suffixes, PlatformClock time, ILogger<CertificateStore> logger)
    {
        // Resolving first keeps a caller from spending the validation's key-derivation work on a tenant it cannot see.
        if (await grains.GetVisibleAsync(context, slug) is not { } tenant)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        if (!CertificateValidator.TryValidate(request, time.GetUtcNow(), out var certificate, out var rejection, suffixes.IsWildcardOverPublicSuffix))
        {
            return Rejected(rejection);
        }

        CertificateRecord sealedCertificate;
        try
        {
            // Validated and encrypted here, outside the tenant's turn: only the ciphertext of the key travels to the grain.
            sealedCertificate = store.Seal(certificate);
        }
        finally
        {
            certificate.ClearKey();
        }

        var source = string.IsNullOrWhiteSpace(request.Pem) ? "pfx" : "pem";
        var reply = await grains.GetGrain<ITenantGrain>(tenant.Slug).UploadCertificateAsync(context.Scope(), sealedCertificate, source, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var response = reply.Answer<CertificateResponse>();
        LogUploaded(logger, tenant.Slug, response.Id, response.Thumbprint, sealedCertificate.ChainLength, reply.Tenant!.Row.Revision);
        return TypedResults.Created($"/v1/tenants/{tenant.Slug}/certificates/{response.Id}", response);
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
        string slug, string id, HttpContext context, IGrainFactory grains, ILogger<CertificateStore> logger)
    {
        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.DeleteCertificateAsync(context.Scope(), Guid.TryParse(id, out var certificateId) ? certificateId : null, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var deleted = reply.Answer<CertificateResponse>();
        LogDeleted(logger, slug, deleted.Id, deleted.Thumbprint, reply.Tenant!.Row.Revision);
        return TypedResults.NoContent();
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
