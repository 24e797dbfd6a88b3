using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Internal;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Internal;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

/// <summary>
/// Walks every endpoint the silo maps under <c>/v1</c>, as found in the running application's route table, with the key
/// of a suspended tenant: reads answer, writes are refused, whatever endpoint is added later.
/// </summary>
public sealed class SuspendedTenantWriteFilterTests
{
    [Fact]
    public async Task EveryWriteEndpoint_SuspendedTenantsKey_Answers403TenantSuspendedAndChangesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var world = await World.CreateAsync(silo);
        var op = silo.OperatorClient();
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync(Url("/v1/tenants/acme/suspend"), null)).StatusCode);
        var suspended = silo.ClientWith(world.Key);
        var before = await world.SnapshotAsync(op);

        var endpoints = Endpoints(silo);
        var tenantWrites = 0;
        foreach (var (method, template, operatorOnly) in endpoints.Where(e => e.Method is not ("GET" or "HEAD")))
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), Url(world.Fill(template))) { Content = World.PlausibleBody(method, template) };
            request.Headers.TryAddWithoutValidation("If-Match", $"\"{before.ConfigRevision}\"");
            var response = await suspended.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();

            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {template} answered {(int)response.StatusCode} to a suspended tenant's key: {body}");
            var code = JsonDocument.Parse(body).RootElement.GetProperty("code").GetString();
            // Operator-only endpoints refuse every tenant key before the suspension is looked at.
            Assert.True(code == "tenant_suspended" || (operatorOnly && code == "forbidden"), $"{method} {template}: code {code}");
            tenantWrites += operatorOnly ? 0 : 1;
        }

        Assert.True(tenantWrites >= 12, $"Only {tenantWrites} writes open to tenant keys were found; the route walk is broken.");
        Assert.Equal(before, await world.SnapshotAsync(op));

        // Reads keep working for the suspended tenant's key.
        var reads = endpoints.Where(e => e.Method == "GET" && e.Template.StartsWith("/v1/tenants/{slug}", StringComparison.Ordinal)).ToList();
        Assert.True(reads.Count >= 10, $"Only {reads.Count} tenant reads were found.");
        foreach (var (_, template, _) in reads)
        {
            var response = await suspended.GetAsync(Url(world.Fill(template)));
            Assert.True(response.IsSuccessStatusCode, $"GET {template} answered {(int)response.StatusCode} to a suspended tenant's key.");
        }
    }

    [Fact]
    public async Task Writes_OperatorOnSuspendedTenant_Accepted_TenantKeyAcceptedAgainAfterResume()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync(Url("/v1/tenants/acme/suspend"), null)).StatusCode);
        var psk = new CreatePskIdentityRequest("sensor-1", new string('a', 32));

        var refused = await tenantClient.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(psk));
        var byOperator = await op.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("support")));
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync(Url("/v1/tenants/acme/resume"), null)).StatusCode);
        var resumed = await tenantClient.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(psk));

        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, "tenant_suspended");
        Assert.Equal(HttpStatusCode.Created, byOperator.StatusCode);
        Assert.Equal(HttpStatusCode.Created, resumed.StatusCode);
    }

    private static List<(string Method, string Template, bool OperatorOnly)> Endpoints(SiloApp silo)
    {
        var sources = silo.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        var result = new List<(string, string, bool)>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var template = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (!template.StartsWith("/v1/", StringComparison.Ordinal))
            {
                continue;
            }

            var operatorOnly = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == "operator");
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                result.Add((method, template, operatorOnly));
            }
        }

        return result.Distinct().OrderBy(e => e.Item2, StringComparer.Ordinal).ThenBy(e => e.Item1, StringComparer.Ordinal).ToList();
    }

    /// <summary>A tenant that owns one of everything a write could change, and its key.</summary>
    private sealed class World
    {
        public required string Key { get; init; }
        public required Guid ApiKeyId { get; init; }
        public required Guid CertificateId { get; init; }
        public required Guid PskId { get; init; }
        public required Guid RawPublicKeyId { get; init; }
        public required int Port { get; init; }
        public required string ConnectionId { get; init; }

        public static async Task<World> CreateAsync(SiloApp silo)
        {
            var op = silo.OperatorClient();
            var tenant = await CreateTenantAsync(op, "acme");
            var key = await op.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("suspension")));
            Assert.Equal(HttpStatusCode.Created, key.StatusCode);
            var created = (await ReadAsync<CreatedApiKeyResponse>(key))!;

            using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["device.acme.example"]);
            var upload = await op.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(certificate) }));
            Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
            var psk = await op.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new CreatePskIdentityRequest("sensor-1", new string('a', 32))));
            Assert.Equal(HttpStatusCode.Created, psk.StatusCode);
            using var rawKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var raw = await op.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = rawKey.ExportSubjectPublicKeyInfoPem() }));
            Assert.Equal(HttpStatusCode.Created, raw.StatusCode);
            var port = await op.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tcp")));
            Assert.Equal(HttpStatusCode.Created, port.StatusCode);

            await silo.RegisterGatewayAsync("gw-suspend");
            var connectionId = Platform.Contracts.Connections.ConnectionId.Format("gw-suspend", 1);
            Assert.True(await silo.SendEventsAsync("gw-suspend", new ConnectionEventBatch([InternalTestFixture.Opened(connectionId, tenant.Id).Ws()], [], [])));

            return new World
            {
                Key = created.Secret,
                ApiKeyId = created.Key.Id,
                CertificateId = (await ReadAsync<Platform.Contracts.Certificates.CertificateResponse>(upload))!.Id,
                PskId = (await ReadAsync<PskIdentityResponse>(psk))!.Id,
                RawPublicKeyId = (await ReadAsync<Platform.Contracts.RawKeys.RawPublicKeyResponse>(raw))!.Id,
                Port = (await ReadAsync<DedicatedPortResponse>(port))!.Port,
                ConnectionId = connectionId,
            };
        }

        public string Fill(string template)
        {
            var id = template switch
            {
                _ when template.Contains("/certificates/", StringComparison.Ordinal) => CertificateId.ToString(),
                _ when template.Contains("/api-keys/", StringComparison.Ordinal) => ApiKeyId.ToString(),
                _ when template.Contains("/psk-identities/", StringComparison.Ordinal) => PskId.ToString(),
                _ when template.Contains("/raw-public-keys/", StringComparison.Ordinal) => RawPublicKeyId.ToString(),
                _ when template.Contains("/connections/", StringComparison.Ordinal) => ConnectionId,
                _ when template.Contains("/gateways/", StringComparison.Ordinal) => "gw-suspend",
                // The tenant's own platform name is always among its claimed host names.
                _ when template.Contains("/host-names/", StringComparison.Ordinal) => "acme.platform.test",
                _ => "",
            };
            var path = new StringBuilder();
            var i = 0;
            while (i < template.Length)
            {
                if (template[i] != '{')
                {
                    path.Append(template[i++]);
                    continue;
                }

                var end = template.IndexOf('}', i);
                var name = template[(i + 1)..end].Split(':')[0];
                path.Append(name switch
                {
                    "slug" => "acme",
                    "port" => Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => Uri.EscapeDataString(id),
                });
                i = end + 1;
            }

            return path.ToString();
        }

        /// <summary>A body that would be accepted from an active tenant, so that validation is not what refuses it.</summary>
        public static StringContent? PlausibleBody(string method, string template)
        {
            if (method is "GET" or "DELETE")
            {
                return null;
            }

            template = template.TrimEnd('/');
            object body = template switch
            {
                _ when template.EndsWith("/config", StringComparison.Ordinal) => new { },
                _ when template.EndsWith("/plan", StringComparison.Ordinal) => new { },
                _ when template.EndsWith("/ports", StringComparison.Ordinal) => new AllocatePortRequest("tls"),
                _ when template.EndsWith("/certificates", StringComparison.Ordinal) => new { pem = "-" },
                _ when template.EndsWith("/api-keys", StringComparison.Ordinal) => new CreateApiKeyRequest("x"),
                _ when template.EndsWith("/psk-identities", StringComparison.Ordinal) => new CreatePskIdentityRequest("x", new string('b', 32)),
                _ when template.EndsWith("/raw-public-keys", StringComparison.Ordinal) => new { key = FreshPublicKeyPem() },
                _ when template.EndsWith("/messages", StringComparison.Ordinal) || template.EndsWith("/broadcast", StringComparison.Ordinal) => new { text = "hi" },
                _ when template.EndsWith("/disconnect", StringComparison.Ordinal) => new { code = 1000 },
                _ when template.EndsWith("/drain", StringComparison.Ordinal) => new { deadlineSeconds = 30 },
                _ when template.EndsWith("/verify", StringComparison.Ordinal) => new { userName = "x", password = "y" },
                _ when template == "/v1/operators" => new { userName = "mallory", password = "a long enough password" },
                _ when template == "/v1/tenants" => new { slug = "other", displayName = "Other" },
                _ when method == "PATCH" => new UpdateTenantRequest("Renamed"),
                _ => new { },
            };
            var content = new StringContent(JsonSerializer.Serialize(body, PlatformJson.Options), Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return content;
        }

        private static string FreshPublicKeyPem()
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            return key.ExportSubjectPublicKeyInfoPem();
        }

        /// <summary>Everything a write could have changed, read with the operator key.</summary>
        public async Task<Snapshot> SnapshotAsync(HttpClient op)
        {
            async Task<string> Get(string path) => await (await op.GetAsync(Url(path))).Content.ReadAsStringAsync();
            var tenant = (await ReadAsync<TenantResponse>(await op.GetAsync(Url("/v1/tenants/acme"))))!;
            return new Snapshot(
                tenant.Status,
                tenant.DisplayName,
                tenant.ConfigRevision,
                string.Join(",", tenant.HostNames),
                string.Join(",", tenant.DedicatedPorts.Select(p => p.Port)),
                await Get("/v1/tenants/acme/certificates"),
                await Get("/v1/tenants/acme/psk-identities"),
                await Get("/v1/tenants/acme/raw-public-keys"),
                // Keys as created or revoked; lastUsedAt moves with every use of the key, including refused ones.
                string.Join(",", (await ReadAsync<Page<ApiKeyResponse>>(await op.GetAsync(Url("/v1/tenants/acme/api-keys"))))!.Items
                    .Select(k => $"{k.Id} {k.Name} {k.RevokedAt}")),
                await Get("/v1/tenants/acme/connections"),
                await Get("/v1/tenants?limit=100"));
        }
    }

    private sealed record Snapshot(
        string Status,
        string DisplayName,
        long ConfigRevision,
        string HostNames,
        string Ports,
        string Certificates,
        string PskIdentities,
        string RawPublicKeys,
        string ApiKeys,
        string Connections,
        string Tenants);
}
