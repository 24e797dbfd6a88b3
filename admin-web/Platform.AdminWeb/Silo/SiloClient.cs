using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Audit;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Events;
using Platform.Contracts.Gateways;
using Platform.Contracts.HostNames;
using Platform.Contracts.Operators;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Contracts.RawKeys;
using Platform.Contracts.Stats;
using Platform.Contracts.Tenants;
using Platform.Contracts.Usage;
using Platform.Contracts.Webhooks;

namespace Platform.AdminWeb.Silo;

/// <summary>Typed client of the silo REST API, called with the operator key.</summary>
public sealed partial class SiloClient(HttpClient http, ILogger<SiloClient> logger)
{
    // Reading tolerates members this portal does not know yet, so a newer silo does not break it.
    private static readonly JsonSerializerOptions s_read = CreateReadOptions();

    // ---- operators
    public Task<SiloResult<VerifiedOperatorResponse>> VerifyOperatorAsync(string userName, string password, CancellationToken ct) =>
        SendAsync<VerifiedOperatorResponse>(HttpMethod.Post, "v1/operators/verify", new VerifyOperatorRequest(userName, password), null, ct);

    public Task<SiloResult<Page<OperatorResponse>>> ListOperatorsAsync(CancellationToken ct) =>
        SendAsync<Page<OperatorResponse>>(HttpMethod.Get, "v1/operators?limit=1000", null, null, ct);

    public Task<SiloResult<OperatorResponse>> CreateOperatorAsync(CreateOperatorRequest request, CancellationToken ct) =>
        SendAsync<OperatorResponse>(HttpMethod.Post, "v1/operators", request, null, ct);

    // ---- tenants
    public Task<SiloResult<Page<TenantResponse>>> ListTenantsAsync(string? search, int offset, int limit, CancellationToken ct) =>
        SendAsync<Page<TenantResponse>>(HttpMethod.Get,
            $"v1/tenants?offset={offset}&limit={limit}{(string.IsNullOrWhiteSpace(search) ? "" : "&search=" + Uri.EscapeDataString(search.Trim()))}", null, null, ct);

    public Task<SiloResult<TenantResponse>> GetTenantAsync(string slug, CancellationToken ct) =>
        SendAsync<TenantResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}", null, null, ct);

    public Task<SiloResult<TenantResponse>> CreateTenantAsync(CreateTenantRequest request, CancellationToken ct) =>
        SendAsync<TenantResponse>(HttpMethod.Post, "v1/tenants", request, null, ct);

    public Task<SiloResult<TenantResponse>> SuspendTenantAsync(string slug, CancellationToken ct) =>
        SendAsync<TenantResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/suspend", null, null, ct);

    public Task<SiloResult<TenantResponse>> ResumeTenantAsync(string slug, CancellationToken ct) =>
        SendAsync<TenantResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/resume", null, null, ct);

    public Task<SiloResult<NoContent>> DeleteTenantAsync(string slug, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}", null, null, ct);

    public Task<SiloResult<ConfigResponse>> GetConfigAsync(string slug, CancellationToken ct) =>
        SendAsync<ConfigResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/config", null, null, ct);

    public Task<SiloResult<ConfigResponse>> ReplaceConfigAsync(string slug, TenantConfig config, long revision, CancellationToken ct) =>
        SendAsync<ConfigResponse>(HttpMethod.Put, $"v1/tenants/{Seg(slug)}/config", config,
            "\"" + revision.ToString(CultureInfo.InvariantCulture) + "\"", ct);

    public Task<SiloResult<TenantPlanResponse>> GetPlanAsync(string slug, CancellationToken ct) =>
        SendAsync<TenantPlanResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/plan", null, null, ct);

    public Task<SiloResult<TenantPlanResponse>> ReplacePlanAsync(string slug, TenantPlan plan, CancellationToken ct) =>
        SendAsync<TenantPlanResponse>(HttpMethod.Put, $"v1/tenants/{Seg(slug)}/plan", plan, null, ct);

    public Task<SiloResult<DedicatedPortResponse>> AllocatePortAsync(string slug, string protocol, CancellationToken ct) =>
        SendAsync<DedicatedPortResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/ports", new AllocatePortRequest(protocol), null, ct);

    public Task<SiloResult<NoContent>> ReleasePortAsync(string slug, int port, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}/ports/{port}", null, null, ct);

    // ---- host names and their proof
    /// <summary>The tenant's usage per UTC day, over the silo's default range (the last 30 days up to now).</summary>
    public Task<SiloResult<TenantUsageResponse>> GetDailyUsageAsync(string slug, CancellationToken ct) =>
        SendAsync<TenantUsageResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/usage?granularity=day", null, null, ct);

    public Task<SiloResult<Page<HostNameResponse>>> ListHostNamesAsync(string slug, CancellationToken ct) =>
        SendAsync<Page<HostNameResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/host-names?limit=1000", null, null, ct);

    public Task<SiloResult<HostNameResponse>> VerifyHostNameAsync(string slug, string name, CancellationToken ct) =>
        SendAsync<HostNameResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/host-names/{Seg(name)}/verify", null, null, ct);

    public Task<SiloResult<HostNameResponse>> ApproveHostNameAsync(string slug, string name, CancellationToken ct) =>
        SendAsync<HostNameResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/host-names/{Seg(name)}/approve", null, null, ct);

    // ---- certificates, API keys, PSK identities
    public Task<SiloResult<Page<CertificateResponse>>> ListCertificatesAsync(string slug, CancellationToken ct) =>
        SendAsync<Page<CertificateResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/certificates?limit=1000", null, null, ct);

    public Task<SiloResult<CertificateResponse>> UploadCertificateAsync(string slug, UploadCertificateRequest request, CancellationToken ct) =>
        SendAsync<CertificateResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/certificates", request, null, ct);

    public Task<SiloResult<NoContent>> DeleteCertificateAsync(string slug, Guid id, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}/certificates/{id}", null, null, ct);

    public Task<SiloResult<Page<ApiKeyResponse>>> ListApiKeysAsync(string slug, CancellationToken ct) =>
        SendAsync<Page<ApiKeyResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/api-keys?limit=1000", null, null, ct);

    public Task<SiloResult<CreatedApiKeyResponse>> CreateApiKeyAsync(string slug, string name, CancellationToken ct) =>
        SendAsync<CreatedApiKeyResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/api-keys", new CreateApiKeyRequest(name), null, ct);

    public Task<SiloResult<NoContent>> RevokeApiKeyAsync(string slug, Guid id, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}/api-keys/{id}", null, null, ct);

    public Task<SiloResult<Page<PskIdentityResponse>>> ListPskIdentitiesAsync(string slug, CancellationToken ct) =>
        SendAsync<Page<PskIdentityResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/psk-identities?limit=1000", null, null, ct);

    public Task<SiloResult<PskIdentityResponse>> CreatePskIdentityAsync(string slug, CreatePskIdentityRequest request, CancellationToken ct) =>
        SendAsync<PskIdentityResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/psk-identities", request, null, ct);

    public Task<SiloResult<NoContent>> DeletePskIdentityAsync(string slug, Guid id, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}/psk-identities/{id}", null, null, ct);

    public Task<SiloResult<Page<RawPublicKeyResponse>>> ListRawPublicKeysAsync(string slug, CancellationToken ct) =>
        SendAsync<Page<RawPublicKeyResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/raw-public-keys?limit=1000", null, null, ct);

    public Task<SiloResult<RawPublicKeyResponse>> CreateRawPublicKeyAsync(string slug, CreateRawPublicKeyRequest request, CancellationToken ct) =>
        SendAsync<RawPublicKeyResponse>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/raw-public-keys", request, null, ct);

    public Task<SiloResult<NoContent>> DeleteRawPublicKeyAsync(string slug, Guid id, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Delete, $"v1/tenants/{Seg(slug)}/raw-public-keys/{id}", null, null, ct);

    // ---- connections
    public Task<SiloResult<Page<ConnectionResponse>>> ListConnectionsAsync(string slug, ConnectionFilter filter, CancellationToken ct)
    {
        var query = $"state={Uri.EscapeDataString(filter.State)}&limit={filter.Limit}";
        if (!string.IsNullOrWhiteSpace(filter.Protocol))
        {
            query += "&protocol=" + Uri.EscapeDataString(filter.Protocol);
        }

        if (!string.IsNullOrWhiteSpace(filter.RemoteAddress))
        {
            query += "&remoteAddress=" + Uri.EscapeDataString(filter.RemoteAddress.Trim());
        }

        if (!string.IsNullOrWhiteSpace(filter.Gateway))
        {
            query += "&gateway=" + Uri.EscapeDataString(filter.Gateway.Trim());
        }

        return SendAsync<Page<ConnectionResponse>>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/connections?{query}", null, null, ct);
    }

    public Task<SiloResult<ConnectionResponse>> GetConnectionAsync(string slug, string id, CancellationToken ct) =>
        SendAsync<ConnectionResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/connections/{Seg(id)}", null, null, ct);

    public Task<SiloResult<NoContent>> SendMessageAsync(string slug, string id, SendMessageRequest request, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/connections/{Seg(id)}/messages", request, null, ct);

    public Task<SiloResult<NoContent>> DisconnectAsync(string slug, string id, DisconnectRequest request, CancellationToken ct) =>
        SendAsync<NoContent>(HttpMethod.Post, $"v1/tenants/{Seg(slug)}/connections/{Seg(id)}/disconnect", request, null, ct);

    // ---- lifecycle events
    public Task<SiloResult<EventPage>> ListEventsAsync(string slug, long after, int limit, CancellationToken ct) =>
        SendAsync<EventPage>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/events?after={after.ToString(CultureInfo.InvariantCulture)}&limit={limit.ToString(CultureInfo.InvariantCulture)}", null, null, ct);

    public Task<SiloResult<WebhookStatusResponse>> GetWebhookStatusAsync(string slug, CancellationToken ct) =>
        SendAsync<WebhookStatusResponse>(HttpMethod.Get, $"v1/tenants/{Seg(slug)}/webhook-status", null, null, ct);

    // ---- gateways, audit
    public Task<SiloResult<Page<GatewayResponse>>> ListGatewaysAsync(CancellationToken ct) =>
        SendAsync<Page<GatewayResponse>>(HttpMethod.Get, "v1/gateways?limit=1000", null, null, ct);

    public Task<SiloResult<GatewayResponse>> DrainGatewayAsync(string id, int deadlineSeconds, CancellationToken ct) =>
        SendAsync<GatewayResponse>(HttpMethod.Post, $"v1/gateways/{Seg(id)}/drain", new DrainGatewayRequest(deadlineSeconds), null, ct);

    public Task<SiloResult<Page<SiloResponse>>> ListSilosAsync(CancellationToken ct) =>
        SendAsync<Page<SiloResponse>>(HttpMethod.Get, "v1/silos?limit=1000", null, null, ct);

    // ---- dashboard figures
    public Task<SiloResult<PlatformStatsResponse>> GetStatsAsync(CancellationToken ct) =>
        SendAsync<PlatformStatsResponse>(HttpMethod.Get, "v1/stats", null, null, ct);

    public Task<SiloResult<RefusalReport>> ListRefusalsAsync(DateTimeOffset since, int limit, CancellationToken ct) =>
        SendAsync<RefusalReport>(HttpMethod.Get,
            $"v1/refusals?since={Uri.EscapeDataString(since.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))}&limit={limit}", null, null, ct);

    public Task<SiloResult<Page<AuditEntryResponse>>> ListAuditAsync(string? tenant, string? actor, int offset, int limit, CancellationToken ct)
    {
        var query = $"offset={offset}&limit={limit}";
        if (!string.IsNullOrWhiteSpace(tenant))
        {
            query += "&tenant=" + Uri.EscapeDataString(tenant.Trim());
        }

        if (!string.IsNullOrWhiteSpace(actor))
        {
            query += "&actor=" + Uri.EscapeDataString(actor.Trim());
        }

        return SendAsync<Page<AuditEntryResponse>>(HttpMethod.Get, $"v1/audit?{query}", null, null, ct);
    }

    private async Task<SiloResult<T>> SendAsync<T>(HttpMethod method, string path, object? body, string? ifMatch, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: PlatformJson.Options);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            LogUnavailable(logger, method.Method, path, e.Message);
            return new(default, Unavailable("The control plane could not be reached."));
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            LogUnavailable(logger, method.Method, path, "timeout");
            return new(default, Unavailable("The control plane did not answer in time."));
        }

        using (response)
        {
            var etag = response.Headers.ETag?.Tag;
            if (response.IsSuccessStatusCode)
            {
                if (typeof(T) == typeof(NoContent) || response.StatusCode == HttpStatusCode.NoContent || response.Content.Headers.ContentLength == 0)
                {
                    return new(default, null, etag);
                }

                try
                {
                    return new(await response.Content.ReadFromJsonAsync<T>(s_read, ct), null, etag);
                }
                catch (JsonException e)
                {
                    LogUnreadable(logger, method.Method, path, e.Message);
                    return new(default, new SiloProblem(502, "unreadable_response", "Unexpected answer from the control plane", null, []));
                }
            }

            return new(default, await ReadProblemAsync(response, ct), etag);
        }
    }

    private static async Task<SiloProblem> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        try
        {
            var wire = await response.Content.ReadFromJsonAsync<WireProblem>(s_read, ct);
            if (wire is not null)
            {
                return new SiloProblem(status, wire.Code ?? $"http_{status}", wire.Title ?? response.ReasonPhrase ?? "Error", wire.Detail, wire.Errors ?? []);
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page, for example): fall through to the status line.
        }
        catch (NotSupportedException)
        {
            // No JSON content type at all.
        }

        return new SiloProblem(status, $"http_{status}", response.ReasonPhrase ?? "Error", null, []);
    }

    private static SiloProblem Unavailable(string detail) => new(503, SiloProblem.UnavailableCode, "Control plane unavailable", detail, []);

    private static string Seg(string value) => Uri.EscapeDataString(value);

    private static JsonSerializerOptions CreateReadOptions()
    {
        var options = new JsonSerializerOptions(PlatformJson.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };
        return options;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Silo call {Method} {Path} failed: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Silo call {Method} {Path} answered unreadable JSON: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string method, string path, string reason);

    private sealed record WireProblem(string? Type, string? Title, int? Status, string? Detail, string? Code, IReadOnlyList<FieldError>? Errors);
}

/// <summary>Marker for calls whose success answer carries no body the portal reads.</summary>
public sealed record NoContent;

/// <summary>Filters of a connection list.</summary>
public sealed record ConnectionFilter(string State = "open", string? Protocol = null, string? RemoteAddress = null, string? Gateway = null, int Limit = 200);
