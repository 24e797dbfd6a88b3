using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Certificates;
using Platform.Contracts.Psk;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Certificates;

/// <summary>
/// Drives every certificate, API key and PSK endpoint, successes and failures, records every response
/// and checks that no private key, PSK or API key secret comes back, apart from each key's creation answer.
/// </summary>
public sealed class SecretResponsesTests
{
    [Fact]
    public async Task Endpoints_NeverReturnKeyMaterial_ExceptTheApiKeyCreationAnswer()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var recorded = new List<Recorded>();
        var operatorClient = Client(silo, silo.OperatorKey, recorded);
        await CreateTenantAsync(operatorClient, "acme");
        await CreateTenantAsync(operatorClient, "beta");
        var now = DateTimeOffset.UtcNow;
        using var rsa = TestCertificates.Create(now, ["rsa.example.com"]);
        using var ec = TestCertificates.Create(now, ["ec.example.com"], ecdsa: true, freshKey: true);
        using var encrypted = TestCertificates.Create(now, ["enc.example.com"], ecdsa: true, freshKey: true);
        using var stranger = TestCertificates.Create(now, ["rsa.example.com"], ecdsa: true, freshKey: true);
        using var strangerKey = TestCertificates.PrivateKey(stranger);
        using var encryptedKey = TestCertificates.PrivateKey(encrypted);
        var pfx = TestCertificates.Pfx(ec, "pfx-pw");
        var encryptedPem = encrypted.ExportCertificatePem() + "\n" + encryptedKey.ExportEncryptedPkcs8PrivateKeyPem(
            "pem-pw", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 2048));
        var strangerPem = strangerKey.ExportPkcs8PrivateKeyPem();
        string[] pskKeys = ["00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100ffeeddcc", "0badc0de0badc0de0badc0de0badc0"];

        var first = await CreatedKeyAsync(operatorClient, recorded, "acme");
        var acme = Client(silo, first.Secret, recorded);
        var second = await CreatedKeyAsync(acme, recorded, "acme");
        var beta = Client(silo, (await CreatedKeyAsync(operatorClient, recorded, "beta")).Secret, recorded);
        var keys = new[] { first, second };

        var certificateIds = new List<Guid>();
        foreach (var body in new object[]
        {
            new { pem = TestCertificates.Pem(rsa) },
            new { pfx, password = "pfx-pw" },
            new { pem = encryptedPem, password = "pem-pw" },
        })
        {
            var response = await acme.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            certificateIds.Add((await ReadAsync<CertificateResponse>(response))!.Id);
        }

        foreach (var body in new object[]
        {
            new { pem = rsa.ExportCertificatePem() + "\n" + strangerPem },
            new { pem = TestCertificates.Pem(rsa), pfx },
            new { pfx, password = "wrong" },
            new { pem = encryptedPem, password = "wrong" },
            new { pem = strangerPem },
        })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await acme.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body))).StatusCode);
        }

        var psk = (await ReadAsync<PskIdentityResponse>(await acme.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev-1", key = pskKeys[0] }))))!;
        Assert.Equal(HttpStatusCode.Conflict, (await acme.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev-1", key = pskKeys[1] }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await acme.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev 2", key = pskKeys[2] }))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await acme.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev-2", key = pskKeys[1] }))).StatusCode);

        foreach (var client in new[] { acme, operatorClient, beta })
        {
            await client.GetAsync(Url("/v1/tenants/acme"));
            await client.GetAsync(Url("/v1/tenants/acme/certificates"));
            await client.GetAsync(Url("/v1/tenants/acme/api-keys"));
            await client.GetAsync(Url("/v1/tenants/acme/psk-identities"));
            await client.GetAsync(Url($"/v1/tenants/acme/psk-identities/{psk.Id}"));
            await client.GetAsync(Url($"/v1/tenants/acme/api-keys/{second.Key.Id}"));
            foreach (var id in certificateIds)
            {
                await client.GetAsync(Url($"/v1/tenants/acme/certificates/{id}"));
            }
        }

        await acme.DeleteAsync(Url($"/v1/tenants/acme/certificates/{certificateIds[0]}"));
        await acme.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{psk.Id}"));
        await acme.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{second.Key.Id}"));
        await operatorClient.GetAsync(Url("/v1/tenants/acme/api-keys"));
        await operatorClient.GetAsync(Url("/v1/tenants/acme/certificates"));

        var forbidden = new List<string> { pfx[..64], pfx[^80..^16] };
        foreach (var keyPem in new[] { TestCertificates.Pem(rsa), strangerPem, encryptedPem })
        {
            forbidden.AddRange(Base64Lines(keyPem));
        }

        foreach (var certificate in new[] { rsa, ec, encrypted })
        {
            forbidden.Add(Convert.ToBase64String(TestCertificates.Pkcs8(certificate))[..64]);
        }

        forbidden.AddRange(pskKeys);
        Assert.True(recorded.Count > 40, $"Only {recorded.Count} responses were recorded.");
        foreach (var response in recorded)
        {
            // The PEM label, case-sensitive: problem details may well speak of "the private key".
            Assert.DoesNotContain("PRIVATE KEY", response.Body, StringComparison.Ordinal);
            foreach (var secret in forbidden)
            {
                Assert.False(response.Body.Contains(secret, StringComparison.OrdinalIgnoreCase), $"{response.Request} answered key material ({secret[..Math.Min(secret.Length, 12)]}…).");
            }

            foreach (var key in keys)
            {
                var secretPart = key.Secret[$"tk_{key.Key.Id:N}_".Length..];
                var isCreation = response.Body.Contains($"\"id\":\"{key.Key.Id}\"", StringComparison.Ordinal) && response.Request.StartsWith("POST", StringComparison.Ordinal)
                    && response.Request.EndsWith("/api-keys", StringComparison.Ordinal);
                Assert.Equal(isCreation, response.Body.Contains(secretPart, StringComparison.Ordinal));
            }
        }
    }

    // Lines of base64 inside the key blocks of a PEM (certificate blocks are public and excluded).
    private static IEnumerable<string> Base64Lines(string pem)
    {
        var inKey = false;
        foreach (var line in pem.Split('\n'))
        {
            if (line.StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                inKey = line.Contains("PRIVATE KEY", StringComparison.Ordinal);
            }
            else if (line.StartsWith("-----END", StringComparison.Ordinal))
            {
                inKey = false;
            }
            else if (inKey && line.Length >= 32)
            {
                yield return line;
            }
        }
    }

    private static async Task<CreatedApiKeyResponse> CreatedKeyAsync(HttpClient client, List<Recorded> recorded, string slug)
    {
        var response = await client.PostAsync(Url($"/v1/tenants/{slug}/api-keys"), Json(new { name = "leak check" }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await ReadAsync<CreatedApiKeyResponse>(response))!;
        Assert.Contains(created.Secret, recorded[^1].Body, StringComparison.Ordinal);
        return created;
    }

    private static HttpClient Client(SiloApp silo, string key, List<Recorded> recorded)
    {
        var client = silo.CreateDefaultClient(new Recorder(recorded));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private sealed record Recorded(string Request, string Body);

    private sealed class Recorder(List<Recorded> recorded) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            var body = response.Headers + "\n" + response.Content.Headers + "\n" + await response.Content.ReadAsStringAsync(cancellationToken);
            lock (recorded)
            {
                recorded.Add(new Recorded($"{request.Method} {request.RequestUri?.AbsolutePath}", body));
            }

            return response;
        }
    }
}
