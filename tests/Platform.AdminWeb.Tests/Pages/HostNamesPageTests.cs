using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.HostNames;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>The tenant page's host names: status and challenge shown, Approve and Check DNS against a real silo.</summary>
public sealed class HostNamesPageTests
{
    [Fact]
    public async Task TenantPage_PendingName_ShowsChallengeAndApproveMakesItRoute()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme", new TenantConfig { HostNames = ["devices.example.com"] }), PlatformJson.Options)).EnsureSuccessStatusCode();
        var claim = await ClaimAsync(op, "devices.example.com");
        var client = await app.SignedInAsync();

        var page = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        var row = Row(page, "devices.example.com");
        Assert.Contains("status-pending", row, StringComparison.Ordinal);
        Assert.Contains("_platform-challenge.devices.example.com", row, StringComparison.Ordinal);
        Assert.Contains(claim.ChallengeToken!, row, StringComparison.Ordinal);
        Assert.Contains("Check DNS", row, StringComparison.Ordinal);
        Assert.Contains("Approve", row, StringComparison.Ordinal);
        Assert.Contains("status-verified", Row(page, "acme.platform.test"), StringComparison.Ordinal);

        var response = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=ApproveHostName", new() { ["name"] = "devices.example.com" }, tokenFrom: "/Tenants/acme");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/Tenants/acme#host-names", response.Headers.Location?.OriginalString);
        var after = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        Assert.Contains("devices.example.com approved", after, StringComparison.Ordinal);
        var approvedRow = Row(after, "devices.example.com");
        Assert.Contains("status-verified", approvedRow, StringComparison.Ordinal);
        Assert.Contains("by operator", approvedRow, StringComparison.Ordinal);
        Assert.DoesNotContain(claim.ChallengeToken!, approvedRow, StringComparison.Ordinal);
        var tenant = await op.GetFromJsonAsync<TenantResponse>("/v1/tenants/acme", PlatformJson.Options);
        Assert.Equal(["acme.platform.test", "devices.example.com"], tenant!.HostNames);
    }

    [Fact]
    public async Task TenantPage_CheckDns_NoRecordShowsWhyAndThenProvesTheName()
    {
        var port = FreePorts.TcpAndUdp();
        await using var app = await PortalApp.StartAsync(siloSettings: new Dictionary<string, string?> { ["Platform:DnsServers:0"] = $"127.0.0.1:{port}" });
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme", new TenantConfig { HostNames = ["devices.example.com", "other.example.com"] }), PlatformJson.Options)).EnsureSuccessStatusCode();
        var claim = await ClaimAsync(op, "devices.example.com");
        await using var dns = await Dnsmasq.StartAsync([Dnsmasq.Txt(claim.ChallengeRecord!, claim.ChallengeToken!)], ["example.com"], port: port);
        var client = await app.SignedInAsync();

        var missing = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=VerifyHostName", new() { ["name"] = "other.example.com" }, tokenFrom: "/Tenants/acme");
        var afterMissing = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        var proven = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=VerifyHostName", new() { ["name"] = "devices.example.com" }, tokenFrom: "/Tenants/acme");
        var afterProven = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, missing.StatusCode);
        Assert.Contains("flash-error", afterMissing, StringComparison.Ordinal);
        Assert.Contains("No TXT record at _platform-challenge.other.example.com", afterMissing, StringComparison.Ordinal);
        Assert.Contains("Last check: No TXT record", Row(afterMissing, "other.example.com"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, proven.StatusCode);
        Assert.Contains("devices.example.com is verified by DNS", afterProven, StringComparison.Ordinal);
        Assert.Contains("by dns", Row(afterProven, "devices.example.com"), StringComparison.Ordinal);
        Assert.Contains("status-pending", Row(afterProven, "other.example.com"), StringComparison.Ordinal);
    }

    private static async Task<HostNameResponse> ClaimAsync(HttpClient op, string name)
    {
        var page = await op.GetFromJsonAsync<Page<HostNameResponse>>("/v1/tenants/acme/host-names", PlatformJson.Options);
        return page!.Items.Single(n => n.Name == name);
    }

    /// <summary>The table row of one host name.</summary>
    private static string Row(string html, string name)
    {
        var start = html.IndexOf($"<tr data-host=\"{name}\">", StringComparison.Ordinal);
        Assert.True(start >= 0, $"No row for {name}.");
        return html[start..html.IndexOf("</tr>", start, StringComparison.Ordinal)];
    }
}
