using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Silo.Internal;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

/// <summary>Every tenant change made through the REST API reaches the gateways' config watch.</summary>
public sealed class TenantChangesWatchTests
{
    [Fact]
    public async Task RestChanges_AppearInTheConfigWatch_InOrder()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?>
        {
            ["Platform:DedicatedPortFirst"] = "31000",
            ["Platform:DedicatedPortLast"] = "31009",
        });
        var client = silo.OperatorClient();
        var watch = silo.Services.GetRequiredService<ConfigWatch>();
        const string secret = "watch-secret-0123456789";

        var tenant = await CreateTenantAsync(client, "acme", new
        {
            delivery = new { mode = "webhook", webhook = new { url = "https://hooks.example.com/e", secret } },
        });
        var created = (await watch.QueryAsync(0, CancellationToken.None))!;
        var snapshot = Assert.Single(created.Tenants, t => t.Id == tenant.Id);
        Assert.Equal(secret, snapshot.Config.Delivery.Webhook!.Secret);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(Url("/v1/tenants/acme/suspend"), null)).StatusCode);
        var suspended = (await watch.QueryAsync(created.Revision, CancellationToken.None))!;
        Assert.Equal(TenantStatuses.Suspended, Assert.Single(suspended.Tenants).Status);

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }))).StatusCode);
        var ported = (await watch.QueryAsync(suspended.Revision, CancellationToken.None))!;
        Assert.Equal([31000], Assert.Single(ported.Tenants).DedicatedPorts.Select(p => p.Port));

        using var put = new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = Json(new TenantConfig
            {
                Limits = new LimitsConfig { MaxConnections = 12 },
                Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = "https://hooks.example.com/f" } },
            }),
        };
        put.Headers.TryAddWithoutValidation("If-Match", $"\"{tenant.ConfigRevision}\"");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(put)).StatusCode);
        var replaced = Assert.Single((await watch.QueryAsync(ported.Revision, CancellationToken.None))!.Tenants);
        Assert.Equal(12, replaced.Config.Limits.MaxConnections);
        Assert.Equal(secret, replaced.Config.Delivery.Webhook!.Secret);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(Url("/v1/tenants/acme"))).StatusCode);
        var removed = (await watch.QueryAsync(replaced.Revision, CancellationToken.None))!;
        Assert.Equal([tenant.Id], removed.RemovedTenantIds);
        Assert.Empty(removed.Tenants);
    }
}
