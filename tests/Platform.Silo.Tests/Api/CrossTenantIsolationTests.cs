using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Certificates;
using Platform.Contracts.Internal;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Api;

/// <summary>
/// Walks every endpoint the silo maps under <c>/v1/tenants/{slug}</c>, as found in the running
/// application's route table, so an endpoint added later is covered without editing this test.
/// </summary>
public sealed class CrossTenantIsolationTests
{
    [Fact]
    public async Task EveryTenantScopedEndpoint_OtherTenantsKey_Answers404AndChangesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var world = await SecretWorld.CreateAsync(silo);
        var intruder = silo.ClientWith(world.IntruderKey);
        var before = await world.SnapshotAsync(silo);

        var endpoints = TenantScopedEndpoints(silo);
        Assert.True(endpoints.Count >= 20, $"Only {endpoints.Count} tenant-scoped endpoints were found; the route walk is broken.");
        foreach (var (method, template) in endpoints)
        {
            var path = world.Fill(template);
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = world.PlausibleBody(method, template) };
            request.Headers.TryAddWithoutValidation("If-Match", $"\"{before.ConfigRevision}\"");
            var response = await intruder.SendAsync(request);

            // Operator-only endpoints refuse a tenant key outright (403); every tenant-scoped endpoint
            // answers exactly as for a slug that does not exist (404).
            Assert.True(
                response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden,
                $"{method} {template} answered {(int)response.StatusCode} to another tenant's key: {await response.Content.ReadAsStringAsync()}");
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                var code = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString();
                Assert.True(code is "not_found" or "connection_not_found", $"{method} {template}: code {code}");
            }
        }

        Assert.Equal(before, await world.SnapshotAsync(silo));
    }

    [Fact]
    public async Task EveryTenantScopedGet_ResponsesAcrossTheApi_NeverContainASecret()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var world = await SecretWorld.CreateAsync(silo);
        var bodies = new List<(string What, string Body)>();

        foreach (var client in new[] { silo.OperatorClient(), silo.ClientWith(world.VictimKey) })
        {
            foreach (var (method, template) in TenantScopedEndpoints(silo).Where(e => e.Method == "GET"))
            {
                var response = await client.GetAsync(new Uri(world.Fill(template), UriKind.Relative));
                Assert.True(response.IsSuccessStatusCode, $"GET {template} answered {(int)response.StatusCode}");
                bodies.Add(($"GET {template}", await response.Content.ReadAsStringAsync()));
            }

            foreach (var path in new[] { "/v1/tenants", "/v1/audit", "/v1/gateways", "/v1/refusals", "/v1/stats", "/openapi/v1.json" })
            {
                var response = await client.GetAsync(new Uri(path, UriKind.Relative));
                bodies.Add(($"GET {path}", await response.Content.ReadAsStringAsync()));
            }
        }

        Assert.True(bodies.Count > 20);
        foreach (var (what, body) in bodies)
        {
            foreach (var (name, secret) in world.Secrets())
            {
                Assert.False(body.Contains(secret, StringComparison.OrdinalIgnoreCase), $"{what} returned the {name}.");
            }

            Assert.DoesNotContain("PRIVATE KEY", body, StringComparison.Ordinal);
        }
    }

    private static List<(string Method, string Template)> TenantScopedEndpoints(SiloApp silo)
    {
        var sources = silo.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        var result = new List<(string, string)>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var template = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (!template.StartsWith("/v1/tenants/{slug}", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                result.Add((method, template));
            }
        }

        return result.Distinct().OrderBy(e => e.Item2, StringComparer.Ordinal).ThenBy(e => e.Item1, StringComparer.Ordinal).ToList();
    }

    /// <summary>Two tenants; the victim owns one of everything, including every kind of secret.</summary>
    private sealed class SecretWorld
    {
        public required TenantResponse Victim { get; init; }
        public required string VictimKey { get; init; }
        public required string IntruderKey { get; init; }
        public required Guid CertificateId { get; init; }
        public required string PrivateKeyBase64 { get; init; }
        public required Guid ApiKeyId { get; init; }
        public required Guid PskId { get; init; }
        public required Guid RawPublicKeyId { get; init; }
        public required string PskHex { get; init; }
        public required string WebhookSecret { get; init; }
        public required int Port { get; init; }
        public required string ConnectionId { get; init; }

        public static async Task<SecretWorld> CreateAsync(SiloApp silo)
        {
            var op = silo.OperatorClient();
            const string webhookSecret = "whsec-0123456789abcdef-victim";
            var victim = await TenantApiClient.CreateTenantAsync(op, "victim", new
            {
                delivery = new { mode = "webhook", webhook = new { url = "https://hooks.example.com/in", secret = webhookSecret } },
            });
            var intruder = await TenantApiClient.CreateTenantAsync(op, "intruder");

            var victimKey = await CreateKeyAsync(op, "victim");
            var intruderKey = await CreateKeyAsync(op, "intruder");

            using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["device.victim.example"]);
            var upload = await op.PostAsync(new Uri("/v1/tenants/victim/certificates", UriKind.Relative),
                TenantApiClient.Json(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate))));
            Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
            var stored = (await TenantApiClient.ReadAsync<CertificateResponse>(upload))!;

            var pskHex = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            var psk = await op.PostAsync(new Uri("/v1/tenants/victim/psk-identities", UriKind.Relative),
                TenantApiClient.Json(new CreatePskIdentityRequest("sensor-1", pskHex)));
            Assert.Equal(HttpStatusCode.Created, psk.StatusCode);
            var raw = await op.PostAsync(new Uri("/v1/tenants/victim/raw-public-keys", UriKind.Relative),
                TenantApiClient.Json(new { key = FreshPublicKeyPem(), name = "meter-1" }));
            Assert.Equal(HttpStatusCode.Created, raw.StatusCode);

            var port = await op.PostAsync(new Uri("/v1/tenants/victim/ports", UriKind.Relative), TenantApiClient.Json(new AllocatePortRequest("tcp")));
            Assert.Equal(HttpStatusCode.Created, port.StatusCode);

            await silo.RegisterGatewayAsync("gw-iso");
            var connectionId = Platform.Contracts.Connections.ConnectionId.Format("gw-iso", 1);
            Assert.True(await silo.SendEventsAsync("gw-iso", new ConnectionEventBatch([InternalTestFixture.Opened(connectionId, victim.Id).Ws()], [], [])));

            var keys = (await TenantApiClient.ReadAsync<Page<ApiKeyResponse>>(await op.GetAsync(new Uri("/v1/tenants/victim/api-keys", UriKind.Relative))))!.Items;
            return new SecretWorld
            {
                Victim = victim,
                VictimKey = victimKey,
                IntruderKey = intruderKey,
                CertificateId = stored.Id,
                PrivateKeyBase64 = Convert.ToBase64String(TestCertificates.Pkcs8(certificate)),
                ApiKeyId = keys.Single().Id,
                PskId = (await TenantApiClient.ReadAsync<PskIdentityResponse>(psk))!.Id,
                PskHex = pskHex,
                RawPublicKeyId = (await TenantApiClient.ReadAsync<Platform.Contracts.RawKeys.RawPublicKeyResponse>(raw))!.Id,
                WebhookSecret = webhookSecret,
                Port = (await TenantApiClient.ReadAsync<DedicatedPortResponse>(port))!.Port,
                ConnectionId = connectionId,
            };
        }

        private static async Task<string> CreateKeyAsync(HttpClient op, string slug)
        {
            var response = await op.PostAsync(new Uri($"/v1/tenants/{slug}/api-keys", UriKind.Relative), TenantApiClient.Json(new CreateApiKeyRequest("isolation")));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return (await TenantApiClient.ReadAsync<CreatedApiKeyResponse>(response))!.Secret;
        }

        public IEnumerable<(string Name, string Value)> Secrets()
        {
            yield return ("certificate private key", PrivateKeyBase64[..64]);
            yield return ("PSK", PskHex);
            yield return ("API key secret", VictimKey);
            yield return ("API key secret part", VictimKey[^43..]);
            yield return ("webhook secret", WebhookSecret);
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
                _ when template.Contains("/host-names/", StringComparison.Ordinal) => "device.victim.example",
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
                    "slug" => Victim.Slug,
                    "port" => Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => Uri.EscapeDataString(id),
                });
                i = end + 1;
            }

            return path.ToString();
        }

        /// <summary>A body that would be accepted if the caller were allowed, so that validation is not what refuses it.</summary>
        public StringContent? PlausibleBody(string method, string template)
        {
            if (method is "GET" or "DELETE")
            {
                return null;
            }

            template = template.TrimEnd('/');
            object body = template switch
            {
                _ when template.EndsWith("/config", StringComparison.Ordinal) => new { },
                _ when template.EndsWith("/ports", StringComparison.Ordinal) => new AllocatePortRequest("tcp"),
                _ when template.EndsWith("/certificates", StringComparison.Ordinal) => new { pem = "-" },
                _ when template.EndsWith("/api-keys", StringComparison.Ordinal) => new CreateApiKeyRequest("x"),
                _ when template.EndsWith("/psk-identities", StringComparison.Ordinal) => new CreatePskIdentityRequest("x", new string('a', 32)),
                _ when template.EndsWith("/raw-public-keys", StringComparison.Ordinal) => new { key = FreshPublicKeyPem() },
                _ when template.EndsWith("/messages", StringComparison.Ordinal) || template.EndsWith("/broadcast", StringComparison.Ordinal) => new { text = "hi" },
                _ when template.EndsWith("/disconnect", StringComparison.Ordinal) => new { code = 1000 },
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

        /// <summary>Everything an intruder could have changed, read with the operator key.</summary>
        public async Task<StateSnapshot> SnapshotAsync(SiloApp silo)
        {
            var op = silo.OperatorClient();
            async Task<string> Get(string path) => await (await op.GetAsync(new Uri(path, UriKind.Relative))).Content.ReadAsStringAsync();
            var tenant = (await TenantApiClient.ReadAsync<TenantResponse>(await op.GetAsync(new Uri("/v1/tenants/victim", UriKind.Relative))))!;
            var victimKeyWorks = (await silo.ClientWith(VictimKey).GetAsync(new Uri("/v1/tenants/victim", UriKind.Relative))).StatusCode;
            return new StateSnapshot(
                tenant.Status,
                tenant.DisplayName,
                tenant.ConfigRevision,
                string.Join(",", tenant.HostNames),
                string.Join(",", tenant.DedicatedPorts.Select(p => p.Port)),
                await Get("/v1/tenants/victim/certificates"),
                await Get("/v1/tenants/victim/psk-identities"),
                await Get("/v1/tenants/victim/raw-public-keys"),
                await Get("/v1/tenants/victim/connections"),
                victimKeyWorks);
        }
    }

    private sealed record StateSnapshot(
        string Status,
        string DisplayName,
        long ConfigRevision,
        string HostNames,
        string Ports,
        string Certificates,
        string PskIdentities,
        string RawPublicKeys,
        string Connections,
        HttpStatusCode VictimKeyStatus);
}
