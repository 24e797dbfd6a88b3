using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Platform.Contracts;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>
/// A tenant whose configuration a newer release stored (a rolling upgrade, or a rollback): this release cannot show it
/// without losing the settings it does not know, so the tenant page says so instead of offering a form that would drop
/// them on save, and shows everything else about the tenant.
/// </summary>
public sealed class ConfigFromNewerReleasePageTests
{
    [Fact]
    public async Task Detail_ConfigStoredByANewerRelease_ExplainsItOffersNoConfigFormAndShowsThePlan()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new { slug = "acme", displayName = "Acme", plan = new { dedicatedPorts = 3 } }, PlatformJson.Options)).EnsureSuccessStatusCode();
        (await op.PostAsJsonAsync("/v1/tenants", new { slug = "beta", displayName = "Beta" }, PlatformJson.Options)).EnsureSuccessStatusCode();
        await using (var source = app.Database.CreateDataSource())
        await using (var connection = await source.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(
                """UPDATE tenant_configs SET config = config || '{"quic": {"enabled": true}}' WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')""");
        }

        // The tenant grains read their stored configuration again when they next activate.
        await app.Silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var client = await app.SignedInAsync();

        using var response = await client.GetAsync(new Uri("/Tenants/acme", UriKind.Relative));
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("id=\"config-unavailable\"", html, StringComparison.Ordinal);
        Assert.Contains("A newer release of the platform stored this configuration", html, StringComparison.Ordinal);
        Assert.Contains("PUT /v1/tenants/acme/config", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"config-form\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"save-config\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-code=\"config_from_newer_release\"", html, StringComparison.Ordinal);
        // The rest of the tenant is there: its plan form with the stored plan.
        Assert.Contains("id=\"plan-dedicatedPorts\" name=\"plan.dedicatedPorts\" value=\"3\"", html, StringComparison.Ordinal);

        // Another tenant's page is untouched.
        var beta = await client.GetStringAsync(new Uri("/Tenants/beta", UriKind.Relative));
        Assert.Contains("id=\"config-form\"", beta, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"config-unavailable\"", beta, StringComparison.Ordinal);
    }
}
