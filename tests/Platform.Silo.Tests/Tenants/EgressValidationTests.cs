using System.Net;
using System.Text.Json;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

/// <summary>
/// The silo refuses configuration writes whose forward host or webhook URL names, in any spelling, an address the
/// operator's egress policy forbids; nothing is resolved or contacted here.
/// </summary>
public sealed class EgressValidationTests
{
    /// <summary>Loopback, metadata, private, unspecified and tunnelled forms, each spelled as an attacker would.</summary>
    public static readonly string[] ForbiddenHosts =
    [
        "127.0.0.1", "127.1", "0x7f.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "0x7f000001", "127.0.0.2",
        "::1", "[::1]", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
        "localhost", "db.localhost", "DB.LOCALHOST",
        "169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "::ffff:169.254.169.254",
        "fd00:ec2::254", "fe80::1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "100.100.100.200", "0.0.0.0", "0",
        "224.0.0.1", "255.255.255.255",
    ];

    [Fact]
    public async Task ReplaceConfig_ForwardHostForbiddenInAnyForm_400TargetForbidden()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        foreach (var host in ForbiddenHosts)
        {
            var response = await PutAsync(client, "acme", Forward(host), $"\"{tenant.ConfigRevision}\"");

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{host}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var (code, errors) = await ErrorsAsync(response);
            Assert.Equal("validation_failed", code);
            Assert.True(errors.Contains(("delivery.forward.host", "target_forbidden")), $"{host}: {string.Join(", ", errors)}");
        }
    }

    [Fact]
    public async Task CreateTenant_ForwardHostForbidden_400TargetForbiddenAndNoTenant()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();

        var response = await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = "Acme", config = Forward("0x7f.1", 5432) }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, errors) = await ErrorsAsync(response);
        Assert.Equal("validation_failed", code);
        Assert.Contains(("config.delivery.forward.host", "target_forbidden"), errors);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(Url("/v1/tenants/acme"))).StatusCode);
    }

    [Theory]
    [InlineData("1.2.3.999")]
    [InlineData("10.0.0.09")]
    [InlineData("backend.example.0x1f")]
    public async Task ReplaceConfig_LastLabelNumericButNotAnAddress_400InvalidFormat(string host)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        var response = await PutAsync(client, "acme", Forward(host), $"\"{tenant.ConfigRevision}\"");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(("delivery.forward.host", "invalid_format"), (await ErrorsAsync(response)).Errors);
    }

    [Fact]
    public async Task ReplaceConfig_PublicAddressOrHostName_Accepted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var revision = (await CreateTenantAsync(client, "acme")).ConfigRevision;

        foreach (var host in new[] { "8.8.8.8", "2606:4700:4700::1111", "backend.example.com", "127.0.0.1.nip.io" })
        {
            var response = await PutAsync(client, "acme", Forward(host), $"\"{revision}\"");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{host}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            revision = (await ReadAsync<ConfigResponse>(response))!.Revision;
        }
    }

    [Fact]
    public async Task ReplaceConfig_OperatorAllowsLoopback_LoopbackFormsAcceptedOtherClassesStillRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?>
        {
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
            ["Platform:Egress:DeniedRanges:0"] = "8.8.8.0/24",
        });
        var client = silo.OperatorClient();
        var revision = (await CreateTenantAsync(client, "acme")).ConfigRevision;

        foreach (var host in new[] { "127.0.0.1", "0x7f.1", "2130706433", "::ffff:127.0.0.1", "localhost", "db.localhost" })
        {
            var response = await PutAsync(client, "acme", Forward(host), $"\"{revision}\"");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{host}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            revision = (await ReadAsync<ConfigResponse>(response))!.Revision;
        }

        foreach (var host in new[] { "::1", "10.0.0.1", "169.254.169.254", "8.8.8.8", "::ffff:8.8.8.8" })
        {
            var response = await PutAsync(client, "acme", Forward(host), $"\"{revision}\"");
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{host}: {response.StatusCode}");
            Assert.Contains(("delivery.forward.host", "target_forbidden"), (await ErrorsAsync(response)).Errors);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1/hook")]
    [InlineData("http://0x7f.1:8080/hook")]
    [InlineData("http://2130706433/")]
    [InlineData("http://0177.0.0.1/")]
    [InlineData("https://[::1]:8443/hook")]
    [InlineData("https://[::ffff:169.254.169.254]/")]
    [InlineData("http://localhost:5080/v1/tenants")]
    [InlineData("http://api.localhost./")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://2852039166/latest/meta-data/")]
    [InlineData("http://10.1.2.3/")]
    [InlineData("http://[fd00:ec2::254]/")]
    public async Task ReplaceConfig_WebhookUrlToForbiddenHost_400TargetForbidden(string url)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = url, Secret = "whsec-0123456789abcdef" } },
        };

        var response = await PutAsync(client, "acme", config, $"\"{tenant.ConfigRevision}\"");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, errors) = await ErrorsAsync(response);
        Assert.Equal("validation_failed", code);
        Assert.Contains(("delivery.webhook.url", "target_forbidden"), errors);
    }

    [Fact]
    public async Task ReplaceConfig_WebhookToLoopbackOnceTheOperatorAllowsIt_Accepted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8, ::1/128" });
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = "http://[::1]:9000/hook", Secret = "whsec-0123456789abcdef" } },
        };

        var response = await PutAsync(client, "acme", config, $"\"{tenant.ConfigRevision}\"");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Start_BadEgressRange_FailsNamingTheSetting()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:Egress:DeniedRanges:1"] = "10.1.2.3/8" });

        var error = Assert.ThrowsAny<Exception>(() => silo.CreateClient());

        var message = error is InvalidOperationException ? error.Message : error.GetBaseException().Message;
        Assert.Contains("Platform:Egress:DeniedRanges: '10.1.2.3/8'", message, StringComparison.Ordinal);
        Assert.Contains("10.0.0.0/8", message, StringComparison.Ordinal);
    }

    private static TenantConfig Forward(string host, int port = 5432) => new()
    {
        Delivery = new DeliveryConfig { Mode = DeliveryModes.Forward, Forward = new ForwardConfig { Host = host, Port = port } },
    };

    private static async Task<(string Code, IReadOnlyList<(string Field, string Code)> Errors)> ErrorsAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        var errors = root.TryGetProperty("errors", out var list)
            ? list.EnumerateArray().Select(e => (e.GetProperty("field").GetString()!, e.GetProperty("code").GetString()!)).ToList()
            : [];
        return (root.GetProperty("code").GetString()!, errors);
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string slug, TenantConfig config, string ifMatch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, Url($"/v1/tenants/{slug}/config")) { Content = Json(config) };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return await client.SendAsync(request);
    }
}
