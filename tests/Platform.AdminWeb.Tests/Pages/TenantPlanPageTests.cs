using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>The plan on the tenant detail page: shown with what the tenant uses, edited by the signed-in operator.</summary>
public sealed class TenantPlanPageTests
{
    private static readonly string[] Fields =
        ["maxConnections", "connectionsPerSecond", "maxMessageSize", "maxHalfOpenHandshakes", "dedicatedPorts", "certificates", "pskIdentities", "apiKeys", "hostNames"];

    [Fact]
    public async Task Detail_ShowsThePlanBesideWhatTheTenantUses()
    {
        await using var app = await PortalApp.StartAsync();
        using (var op = app.SiloClient(app.Silo.OperatorKey))
        {
            (await op.PostAsJsonAsync("/v1/tenants", new { slug = "acme", displayName = "Acme", plan = new { dedicatedPorts = 3 } }, PlatformJson.Options)).EnsureSuccessStatusCode();
            (await op.PostAsJsonAsync("/v1/tenants/acme/ports", new AllocatePortRequest("tcp"), PlatformJson.Options)).EnsureSuccessStatusCode();
        }

        var client = await app.SignedInAsync();
        var html = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));

        Assert.Contains("id=\"plan-form\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"plan-dedicatedPorts\" name=\"plan.dedicatedPorts\" value=\"3\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"plan-maxConnections\" name=\"plan.maxConnections\" value=\"1000\"", html, StringComparison.Ordinal);
        Assert.Contains("1 of 3", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SavePlan_Valid_RedirectsWithFlashAndTheSiloHasThePlan()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();

        var response = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=SavePlan", Form(("maxConnections", "20000"), ("dedicatedPorts", "7")), tokenFrom: "/Tenants/acme");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/Tenants/acme", response.Headers.Location?.OriginalString);
        var plan = await op.GetStringAsync(new Uri("/v1/tenants/acme/plan", UriKind.Relative));
        Assert.Contains("\"maxConnections\":20000", plan, StringComparison.Ordinal);
        Assert.Contains("\"dedicatedPorts\":7", plan, StringComparison.Ordinal);
        var page = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        Assert.Contains("Plan saved", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SavePlan_OutOfRangeAndNotANumber_ShowsEachErrorNextToItsFieldAndKeepsThePlan()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();

        var notANumber = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=SavePlan", Form(("certificates", "ten")), tokenFrom: "/Tenants/acme");
        var outOfRange = await PortalApp.PostFormAsync(client, "/Tenants/acme?handler=SavePlan", Form(("maxConnections", "0"), ("apiKeys", "1001")), tokenFrom: "/Tenants/acme");

        Assert.Equal(HttpStatusCode.BadRequest, notANumber.StatusCode);
        AssertErrorBetween(await notANumber.Content.ReadAsStringAsync(), "plan-certificates", "plan-pskIdentities", "A whole number.");
        Assert.Equal(HttpStatusCode.BadRequest, outOfRange.StatusCode);
        var body = await outOfRange.Content.ReadAsStringAsync();
        AssertErrorBetween(body, "plan-maxConnections", "plan-connectionsPerSecond", "Must be between 1 and 100000.");
        AssertErrorBetween(body, "plan-apiKeys", "plan-hostNames", "Must be between 0 and 1000.");
        // The form shows what was typed, not the stored plan.
        Assert.Contains("name=\"plan.apiKeys\" value=\"1001\"", body, StringComparison.Ordinal);
        var plan = await op.GetStringAsync(new Uri("/v1/tenants/acme/plan", UriKind.Relative));
        Assert.Contains("\"maxConnections\":1000,", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SavePlan_WithoutAntiforgeryToken_IsRejectedAndChangesNothing()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();

        var response = await client.PostAsync(new Uri("/Tenants/acme?handler=SavePlan", UriKind.Relative), new FormUrlEncodedContent(Form(("maxConnections", "100000"))));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var plan = await op.GetStringAsync(new Uri("/v1/tenants/acme/plan", UriKind.Relative));
        Assert.Contains("\"maxConnections\":1000,", plan, StringComparison.Ordinal);
    }

    /// <summary>A complete plan form: the defaults, with the given fields replaced.</summary>
    private static Dictionary<string, string> Form(params (string Field, string Value)[] changes)
    {
        var defaults = new Platform.Contracts.Plans.TenantPlan();
        var form = new Dictionary<string, string>
        {
            ["plan.maxConnections"] = defaults.MaxConnections.ToString(CultureInfo.InvariantCulture),
            ["plan.connectionsPerSecond"] = defaults.ConnectionsPerSecond.ToString(CultureInfo.InvariantCulture),
            ["plan.maxMessageSize"] = defaults.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
            ["plan.maxHalfOpenHandshakes"] = defaults.MaxHalfOpenHandshakes.ToString(CultureInfo.InvariantCulture),
            ["plan.dedicatedPorts"] = defaults.DedicatedPorts.ToString(CultureInfo.InvariantCulture),
            ["plan.certificates"] = defaults.Certificates.ToString(CultureInfo.InvariantCulture),
            ["plan.pskIdentities"] = defaults.PskIdentities.ToString(CultureInfo.InvariantCulture),
            ["plan.apiKeys"] = defaults.ApiKeys.ToString(CultureInfo.InvariantCulture),
            ["plan.hostNames"] = defaults.HostNames.ToString(CultureInfo.InvariantCulture),
        };
        Assert.Equal(Fields.Length, form.Count);
        foreach (var (field, value) in changes)
        {
            form["plan." + field] = value;
        }

        return form;
    }

    private static void AssertErrorBetween(string html, string fieldId, string nextFieldId, string message)
    {
        var field = html.IndexOf($"id=\"{fieldId}\"", StringComparison.Ordinal);
        var next = html.IndexOf($"id=\"{nextFieldId}\"", StringComparison.Ordinal);
        var error = html.IndexOf($"<span class=\"field-error\">{message}</span>", field + 1, StringComparison.Ordinal);
        Assert.True(field > 0 && error > field && error < next, $"The error '{message}' is rendered right after {fieldId}.");
    }
}
