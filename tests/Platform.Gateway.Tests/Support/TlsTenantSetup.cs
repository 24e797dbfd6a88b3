using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;

namespace Platform.Gateway.Tests.Support;

/// <summary>Setting tenants up for TLS tests through the silo's REST API: certificates, dedicated ports, configuration.</summary>
internal static class TlsTenantSetup
{
    /// <summary>Uploads a fresh server certificate (with its own CA in the chain) naming <paramref name="hostNames"/>.</summary>
    public static async Task<CertificateResponse> UploadServerCertificateAsync(SiloFixture silo, string slug, params string[] hostNames)
    {
        using var ca = TestCertificates.CreateCa($"Server CA {Guid.NewGuid():N}");
        using var leaf = TestCertificates.CreateSigned(ca, hostNames[0], server: true, hostNames);
        var pem = leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n" + leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n";
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/certificates", UriKind.Relative), new UploadCertificateRequest(Pem: pem), PlatformJson.Options);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var uploaded = (await response.Content.ReadFromJsonAsync<CertificateResponse>(PlatformJson.Options))!;
        Assert.Equal(TestCertificates.Thumbprint(leaf.RawData), uploaded.Thumbprint);
        return uploaded;
    }

    public static async Task<DedicatedPortResponse> AllocatePortAsync(SiloFixture silo, string slug, string protocol)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/ports", UriKind.Relative), new AllocatePortRequest(protocol), PlatformJson.Options);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<DedicatedPortResponse>(body, PlatformJson.Options)!;
    }

    /// <summary>Creates the tenant's PSK identity <paramref name="identity"/> with the hex key <paramref name="keyHex"/>.</summary>
    public static async Task CreatePskAsync(SiloFixture silo, string slug, string identity, string keyHex)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/psk-identities", UriKind.Relative), new CreatePskIdentityRequest(identity, keyHex), PlatformJson.Options);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Replaces the tenant's configuration under its current ETag; returns the answer's body.</summary>
    public static async Task<ConfigResponse> ReplaceConfigAsync(SiloFixture silo, string slug, TenantConfig config)
    {
        var uri = new Uri($"/v1/tenants/{slug}/config", UriKind.Relative);
        using var current = await silo.Operator.GetAsync(uri);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = JsonContent.Create(config, options: PlatformJson.Options) };
        request.Headers.IfMatch.Add(current.Headers.ETag!);
        using var response = await silo.Operator.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<ConfigResponse>(PlatformJson.Options))!;
    }

    /// <summary>Waits until the gateway serves the tenant with <paramref name="count"/> certificates and has leased it slots.</summary>
    public static async Task WaitForCertificatesAsync(TestGateway gateway, string slug, int count)
    {
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue(slug, out var t) && t.Source.Certificates.Count == count);
        await gateway.WaitForTenantAsync(slug);
    }

    /// <summary>The silo's dedicated port range.</summary>
    public static Dictionary<string, string?> SiloPortRange((int First, int Last) range) => new()
    {
        ["Platform:DedicatedPortFirst"] = range.First.ToString(CultureInfo.InvariantCulture),
        ["Platform:DedicatedPortLast"] = range.Last.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The gateway's dedicated port range.</summary>
    public static Dictionary<string, string?> GatewayPortRange((int First, int Last) range) => new()
    {
        ["Platform:DedicatedPortMin"] = range.First.ToString(CultureInfo.InvariantCulture),
        ["Platform:DedicatedPortMax"] = range.Last.ToString(CultureInfo.InvariantCulture),
    };
}
