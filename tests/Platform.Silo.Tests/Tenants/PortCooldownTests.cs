using System.Net;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

/// <summary>A dedicated port released by one tenant is not handed to another during the cool-down (silo clock driven by hand).</summary>
public sealed class PortCooldownTests
{
    private static Dictionary<string, string?> Range(int first, int last, int? cooldownHours = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Platform:DedicatedPortFirst"] = first.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Platform:DedicatedPortLast"] = last.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (cooldownHours is { } hours)
        {
            settings["Platform:PortCooldownHours"] = hours.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    [Fact]
    public async Task Allocate_PortReleasedByAnotherTenant_SkippedFor24HoursThenHandedOut()
    {
        var clock = new ManualTimeProvider();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009)) { Time = clock };
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "alpha");
        await CreateTenantAsync(op, "bravo");
        Assert.Equal(30000, await AllocateAsync(op, "alpha"));
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync(Url("/v1/tenants/alpha/ports/30000"))).StatusCode);

        var during = await AllocateAsync(op, "bravo");
        clock.Advance(TimeSpan.FromHours(24) - TimeSpan.FromSeconds(1));
        var atTheEnd = await AllocateAsync(op, "bravo");
        clock.Advance(TimeSpan.FromSeconds(2));
        var after = await AllocateAsync(op, "bravo");

        Assert.Equal((30001, 30002, 30000), (during, atTheEnd, after));
    }

    [Fact]
    public async Task Allocate_PortTheTenantReleasedItself_HandedBackAtOnce()
    {
        var clock = new ManualTimeProvider();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009)) { Time = clock };
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "alpha");
        Assert.Equal(30000, await AllocateAsync(op, "alpha"));
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync(Url("/v1/tenants/alpha/ports/30000"))).StatusCode);

        Assert.Equal(30000, await AllocateAsync(op, "alpha"));
    }

    [Fact]
    public async Task DeleteTenant_ItsPortsCoolDownBeforeAnotherTenantGetsThem()
    {
        var clock = new ManualTimeProvider();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009, cooldownHours: 2)) { Time = clock };
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "alpha");
        await CreateTenantAsync(op, "bravo");
        Assert.Equal(30000, await AllocateAsync(op, "alpha"));
        Assert.Equal(30001, await AllocateAsync(op, "alpha"));
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync(Url("/v1/tenants/alpha"))).StatusCode);

        // A new tenant under the old slug is another tenant: it waits too.
        await CreateTenantAsync(op, "alpha");
        var reborn = await AllocateAsync(op, "alpha");
        var during = await AllocateAsync(op, "bravo");
        clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromSeconds(1));
        var after = await AllocateAsync(op, "bravo");

        Assert.Equal((30002, 30003, 30000), (reborn, during, after));
    }

    [Fact]
    public async Task Allocate_OnlyPortsCoolingDownForOthersLeft_Returns409PortsExhausted()
    {
        var clock = new ManualTimeProvider();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30000)) { Time = clock };
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "alpha");
        await CreateTenantAsync(op, "bravo");
        Assert.Equal(30000, await AllocateAsync(op, "alpha"));
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync(Url("/v1/tenants/alpha/ports/30000"))).StatusCode);

        var response = await op.PostAsync(Url("/v1/tenants/bravo/ports"), Json(new AllocatePortRequest("tcp")));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "ports_exhausted");
    }

    private static async Task<int> AllocateAsync(HttpClient client, string slug)
    {
        var response = await client.PostAsync(Url($"/v1/tenants/{slug}/ports"), Json(new AllocatePortRequest("tcp")));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await ReadAsync<DedicatedPortResponse>(response))!.Port;
    }
}
