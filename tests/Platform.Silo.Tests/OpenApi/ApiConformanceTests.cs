using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Certificates;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Gateways;
using Platform.Silo.Tests.Internal;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.OpenApi;

/// <summary>
/// One walk over every endpoint of the public API, its success and its main failures, against a real silo and
/// PostgreSQL: every answer must be one the OpenAPI document declares (status, media type, headers, body schema).
/// Every other silo test is held to the document too, when its <see cref="SiloApp"/> is disposed.
/// </summary>
public sealed class ApiConformanceTests
{
    [Fact]
    public async Task EveryEndpoint_SuccessAndMainFailures_AnswerAsTheDocumentDeclares()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:HostNameChecksPerMinute"] = "1" });
        using var gateway = silo.NewGateway();
        var op = silo.OperatorClient();
        var anonymous = silo.AnonymousClient();

        // Tenants.
        await Expect(HttpStatusCode.Unauthorized, anonymous.GetAsync(Url("/v1/tenants")));
        await Expect(HttpStatusCode.BadRequest, op.PostAsync(Url("/v1/tenants"), RawJson("{\"slug\":")));
        await Expect(HttpStatusCode.BadRequest, op.PostAsync(Url("/v1/tenants"), Json(new { slug = "A!", displayName = "" })));
        var tenant = await ReadAsync<TenantResponse>(await Expect(HttpStatusCode.Created, op.PostAsync(Url("/v1/tenants"),
            Json(new { slug = "acme", displayName = "Acme", config = new { hostNames = new[] { "devices.acme.example" } } }))));
        await Expect(HttpStatusCode.Conflict, op.PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = "Acme again" })));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/tenants?search=ac&offset=0&limit=10")));
        await Expect(HttpStatusCode.BadRequest, op.GetAsync(Url("/v1/tenants?limit=many")));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/tenants/acme")));
        await Expect(HttpStatusCode.NotFound, op.GetAsync(Url("/v1/tenants/nobody")));
        await Expect(HttpStatusCode.OK, op.PatchAsync(Url("/v1/tenants/acme"), Json(new { displayName = "Acme Devices" })));
        await Expect(HttpStatusCode.BadRequest, op.PatchAsync(Url("/v1/tenants/acme"), Json(new { displayName = " " })));

        // API keys: the tenant's own key drives the rest of the walk.
        var created = await ReadAsync<CreatedApiKeyResponse>(await Expect(HttpStatusCode.Created,
            op.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("walk")))));
        var tk = silo.ClientWith(created!.Secret);
        var spare = await ReadAsync<CreatedApiKeyResponse>(await Expect(HttpStatusCode.Created,
            tk.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("spare")))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest(""))));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/api-keys")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url($"/v1/tenants/acme/api-keys/{spare!.Key.Id}")));
        await Expect(HttpStatusCode.NotFound, tk.GetAsync(Url($"/v1/tenants/acme/api-keys/{Guid.NewGuid()}")));
        await Expect(HttpStatusCode.NoContent, tk.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{spare.Key.Id}")));
        await Expect(HttpStatusCode.Forbidden, tk.GetAsync(Url("/v1/tenants")));
        await Expect(HttpStatusCode.NotFound, tk.GetAsync(Url("/v1/tenants/other")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme")));

        // Configuration under optimistic concurrency.
        var read = await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/config")));
        var etag = read.Headers.ETag!.Tag;
        await Expect(HttpStatusCode.PreconditionRequired, tk.PutAsync(Url("/v1/tenants/acme/config"), Json(new { })));
        await Expect(HttpStatusCode.PreconditionFailed, tk.SendAsync(IfMatch(HttpMethod.Put, "/v1/tenants/acme/config", "\"999999\"", new { })));
        await Expect(HttpStatusCode.BadRequest, tk.SendAsync(IfMatch(HttpMethod.Put, "/v1/tenants/acme/config", etag, new { limits = new { maxConnections = -1 } })));
        await Expect(HttpStatusCode.OK, tk.SendAsync(IfMatch(HttpMethod.Put, "/v1/tenants/acme/config", etag,
            new { limits = new { maxConnections = 100 }, hostNames = new[] { "devices.acme.example" } })));

        // Plan.
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/plan")));
        await Expect(HttpStatusCode.Forbidden, tk.PutAsync(Url("/v1/tenants/acme/plan"), Json(new { dedicatedPorts = 1 })));
        await Expect(HttpStatusCode.BadRequest, op.PutAsync(Url("/v1/tenants/acme/plan"), Json(new { dedicatedPorts = -1 })));
        await Expect(HttpStatusCode.OK, op.PutAsync(Url("/v1/tenants/acme/plan"), Json(new { dedicatedPorts = 1, pskIdentities = 1 })));

        // Dedicated ports: the second is over the plan.
        var port = await ReadAsync<DedicatedPortResponse>(await Expect(HttpStatusCode.Created,
            tk.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tcp")))));
        await Expect(HttpStatusCode.Conflict, tk.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tls"))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("sctp"))));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/ports")));
        await Expect(HttpStatusCode.BadRequest, tk.DeleteAsync(Url("/v1/tenants/acme/ports/http")));
        await Expect(HttpStatusCode.NotFound, tk.DeleteAsync(Url("/v1/tenants/acme/ports/1")));
        await Expect(HttpStatusCode.NoContent, tk.DeleteAsync(Url($"/v1/tenants/acme/ports/{port!.Port}")));

        // Certificates.
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["devices.acme.example"], ecdsa: true);
        var uploaded = await ReadAsync<CertificateResponse>(await Expect(HttpStatusCode.Created,
            tk.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate))))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new UploadCertificateRequest(Pfx: "bm90IGEgcGZ4"))));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/certificates")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url($"/v1/tenants/acme/certificates/{uploaded!.Id}")));
        await Expect(HttpStatusCode.NotFound, tk.GetAsync(Url($"/v1/tenants/acme/certificates/{Guid.NewGuid()}")));
        await Expect(HttpStatusCode.NoContent, tk.DeleteAsync(Url($"/v1/tenants/acme/certificates/{uploaded.Id}")));

        // Host names: DNS (a closed loopback port here) does not confirm the claim, the next check is too soon, an operator approves.
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/host-names")));
        await Expect(HttpStatusCode.Conflict, tk.PostAsync(Url("/v1/tenants/acme/host-names/devices.acme.example/verify"), null));
        var limited = await Expect(HttpStatusCode.TooManyRequests, tk.PostAsync(Url("/v1/tenants/acme/host-names/devices.acme.example/verify"), null));
        Assert.True(limited.Headers.RetryAfter is not null);
        await Expect(HttpStatusCode.NotFound, op.PostAsync(Url("/v1/tenants/acme/host-names/unclaimed.acme.example/approve"), null));
        await Expect(HttpStatusCode.Forbidden, tk.PostAsync(Url("/v1/tenants/acme/host-names/devices.acme.example/approve"), null));
        await Expect(HttpStatusCode.OK, op.PostAsync(Url("/v1/tenants/acme/host-names/devices.acme.example/approve"), null));
        await Expect(HttpStatusCode.OK, tk.PostAsync(Url("/v1/tenants/acme/host-names/devices.acme.example/verify"), null));

        // PSK identities: the second is over the plan, a repeated name conflicts.
        var psk = await ReadAsync<PskIdentityResponse>(await Expect(HttpStatusCode.Created,
            tk.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new CreatePskIdentityRequest("sensor-1", "00112233445566778899aabbccddeeff")))));
        await Expect(HttpStatusCode.Conflict, tk.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new CreatePskIdentityRequest("sensor-2", "00112233445566778899aabbccddeeff"))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new CreatePskIdentityRequest("sensor 3", "zz"))));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/psk-identities")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url($"/v1/tenants/acme/psk-identities/{psk!.Id}")));
        await Expect(HttpStatusCode.NoContent, tk.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{psk.Id}")));
        await Expect(HttpStatusCode.NotFound, tk.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{psk.Id}")));

        // Raw public keys: the same key twice conflicts, a private key and a weak key are refused; by id and by fingerprint.
        using (var ec = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        using (var weak = System.Security.Cryptography.RSA.Create(1024))
        {
            var raw = await ReadAsync<Platform.Contracts.RawKeys.RawPublicKeyResponse>(await Expect(HttpStatusCode.Created,
                tk.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new Platform.Contracts.RawKeys.CreateRawPublicKeyRequest(ec.ExportSubjectPublicKeyInfoPem(), "meter-1")))));
            await Expect(HttpStatusCode.Conflict, tk.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new Platform.Contracts.RawKeys.CreateRawPublicKeyRequest(ec.ExportSubjectPublicKeyInfoPem()))));
            await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new Platform.Contracts.RawKeys.CreateRawPublicKeyRequest(ec.ExportPkcs8PrivateKeyPem()))));
            await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new Platform.Contracts.RawKeys.CreateRawPublicKeyRequest(weak.ExportSubjectPublicKeyInfoPem()))));
            await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/raw-public-keys")));
            await Expect(HttpStatusCode.OK, tk.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{raw!.Fingerprint}")));
            await Expect(HttpStatusCode.NotFound, tk.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{Guid.NewGuid()}")));
            await Expect(HttpStatusCode.NoContent, tk.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{raw.Id}")));
            await Expect(HttpStatusCode.NotFound, tk.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{raw.Fingerprint}")));
        }

        // Connections and commands, through the observer a gateway registered.
        await Expect(HttpStatusCode.ServiceUnavailable, tk.PostAsync(Url("/v1/tenants/acme/broadcast"), Json(new SendMessageRequest(Text: "hi"))));
        await silo.RegisterGatewayAsync("gw-1", gateway);
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([InternalTestFixture.Opened("gw-1.1", tenant!.Id).Ws()], [], [])));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/connections?state=all&protocol=ws")));
        await Expect(HttpStatusCode.BadRequest, tk.GetAsync(Url("/v1/tenants/acme/connections?state=sleeping")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/connections/gw-1.1")));
        await Expect(HttpStatusCode.NotFound, tk.GetAsync(Url("/v1/tenants/acme/connections/gw-1.ff")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/events?after=0&limit=10")));
        await Expect(HttpStatusCode.BadRequest, tk.GetAsync(Url("/v1/tenants/acme/events?after=-1")));
        await Expect(HttpStatusCode.Accepted, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/messages"), Json(new SendMessageRequest(Text: "hello"))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/messages"), Json(new SendMessageRequest(Text: "a", Binary: "AQ=="))));
        await Expect(HttpStatusCode.NotFound, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.ff/messages"), Json(new SendMessageRequest(Text: "hello"))));
        await Expect(HttpStatusCode.OK, tk.PostAsync(Url("/v1/tenants/acme/broadcast"), Json(new SendMessageRequest(Binary: "AQID"))));
        await Expect(HttpStatusCode.Accepted, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/disconnect"), Json(new DisconnectRequest(4000, "bye"))));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/disconnect"), Json(new DisconnectRequest(999))));
        gateway.Answer = GatewayCommandAnswer.Invalid(new FieldError("binary", FieldErrorCodes.TooLong, "A DTLS datagram carries at most 1200 bytes."));
        await Expect(HttpStatusCode.BadRequest, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/messages"), Json(new SendMessageRequest(Binary: "AQID"))));
        gateway.Failure = new InvalidOperationException("the gateway's command handler failed");
        await Expect(HttpStatusCode.ServiceUnavailable, tk.PostAsync(Url("/v1/tenants/acme/connections/gw-1.1/messages"), Json(new SendMessageRequest(Text: "hello"))));

        // Gateways (operators).
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/gateways")));
        await Expect(HttpStatusCode.Forbidden, tk.GetAsync(Url("/v1/gateways")));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/silos")));
        await Expect(HttpStatusCode.Forbidden, tk.GetAsync(Url("/v1/silos")));
        await Expect(HttpStatusCode.BadRequest, op.GetAsync(Url("/v1/silos?offset=-1")));
        await Expect(HttpStatusCode.BadRequest, op.PostAsync(Url("/v1/gateways/gw-1/drain"), Json(new { deadlineSeconds = -1 })));
        await Expect(HttpStatusCode.NotFound, op.PostAsync(Url("/v1/gateways/gw-9/drain"), Json(new { deadlineSeconds = 0 })));
        await Expect(HttpStatusCode.Accepted, op.PostAsync(Url("/v1/gateways/gw-1/drain"), Json(new { deadlineSeconds = 60 })));

        // Audit, refusals, stats.
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/audit?tenant=acme&limit=5")));
        await Expect(HttpStatusCode.BadRequest, op.GetAsync(Url("/v1/audit?offset=-1")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/audit")));
        var since = DateTimeOffset.UtcNow.AddHours(-2).ToString("O", CultureInfo.InvariantCulture);
        await Expect(HttpStatusCode.OK, op.GetAsync(Url($"/v1/refusals?since={Uri.EscapeDataString(since)}")));
        await Expect(HttpStatusCode.BadRequest, op.GetAsync(Url("/v1/refusals?since=yesterday")));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/refusals")));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/stats")));

        // Usage.
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/usage?granularity=day")));
        await Expect(HttpStatusCode.BadRequest, tk.GetAsync(Url("/v1/tenants/acme/usage?granularity=week")));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/usage?from=2026-01-01&to=2026-01-02")));
        using (var csv = new HttpRequestMessage(HttpMethod.Get, Url("/v1/usage")))
        {
            csv.Headers.Accept.ParseAdd("text/csv");
            await Expect(HttpStatusCode.OK, op.SendAsync(csv));
        }

        await Expect(HttpStatusCode.BadRequest, op.GetAsync(Url("/v1/usage?from=yesterday")));
        await Expect(HttpStatusCode.Forbidden, tk.GetAsync(Url("/v1/usage")));

        // Webhook status.
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/webhook-status")));
        await Expect(HttpStatusCode.BadRequest, tk.GetAsync(Url("/v1/tenants/acme/webhook-status?from=yesterday")));

        // Operators.
        await Expect(HttpStatusCode.Created, op.PostAsync(Url("/v1/operators"), Json(new { userName = "alice", password = "correct horse battery" })));
        await Expect(HttpStatusCode.Conflict, op.PostAsync(Url("/v1/operators"), Json(new { userName = "ALICE", password = "correct horse battery" })));
        await Expect(HttpStatusCode.BadRequest, op.PostAsync(Url("/v1/operators"), Json(new { userName = "bob", password = "short" })));
        await Expect(HttpStatusCode.OK, op.GetAsync(Url("/v1/operators")));
        await Expect(HttpStatusCode.OK, op.PostAsync(Url("/v1/operators/verify"), Json(new { userName = "alice", password = "correct horse battery" })));
        await Expect(HttpStatusCode.Unauthorized, op.PostAsync(Url("/v1/operators/verify"), Json(new { userName = "alice", password = "wrong horse battery" })));

        // A suspended tenant's key reads but does not write; then the tenant goes.
        await Expect(HttpStatusCode.OK, op.PostAsync(Url("/v1/tenants/acme/suspend"), null));
        await Expect(HttpStatusCode.OK, tk.GetAsync(Url("/v1/tenants/acme/config")));
        await Expect(HttpStatusCode.Forbidden, tk.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("blocked"))));
        await Expect(HttpStatusCode.OK, op.PostAsync(Url("/v1/tenants/acme/resume"), null));
        await Expect(HttpStatusCode.NoContent, op.DeleteAsync(Url("/v1/tenants/acme")));
        await Expect(HttpStatusCode.NotFound, op.DeleteAsync(Url("/v1/tenants/acme")));

        var conformance = await silo.ConformanceAsync();
        Assert.Empty(await silo.CheckExchangesAsync());
        var succeeded = silo.Exchanges.Where(e => e.Status is >= 200 and < 300).Select(e => (e.Method, e.RoutePattern)).ToHashSet();
        var neverSucceeded = conformance.Operations.Where(o => !succeeded.Contains(o)).Select(o => $"{o.Method} {o.Path}").ToList();
        Assert.True(neverSucceeded.Count == 0, "The walk never got a success from: " + string.Join(", ", neverSucceeded));
        Assert.Empty(new[] { 400, 401, 403, 404, 409, 412, 428, 429, 503 }.Except(silo.Exchanges.Select(e => e.Status)));
    }

    private static async Task<HttpResponseMessage> Expect(HttpStatusCode status, Task<HttpResponseMessage> request)
    {
        var response = await request;
        Assert.True(status == response.StatusCode,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {(int)status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return response;
    }

    private static HttpRequestMessage IfMatch(HttpMethod method, string path, string etag, object body)
    {
        var request = new HttpRequestMessage(method, Url(path)) { Content = Json(body) };
        request.Headers.IfMatch.Add(EntityTagHeaderValue.Parse(etag));
        return request;
    }
}
