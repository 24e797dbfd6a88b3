using System.Net;
using System.Text.Json;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

public sealed class EventsApiTests
{
    [Fact]
    public async Task ListEvents_AfterAndLimit_PagesInSequenceOrder()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, Enumerable.Range(1, 7).ToArray());
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);
        var client = silo.ClientWith(key);

        var seen = new List<long>();
        long after = 0;
        for (var pages = 0; pages < 10; pages++)
        {
            var page = await EventTestSupport.EventsAsync(client, "acme", after, limit: 3);
            Assert.Equal(7, page.LastSequence);
            if (page.Items.Count == 0)
            {
                Assert.Equal(after, page.Next);
                break;
            }

            Assert.True(page.Items.Count <= 3);
            seen.AddRange(page.Items.Select(i => i.Event.Sequence));
            after = page.Next;
        }

        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), seen);
        var defaults = await silo.ClientWith(key).GetStringAsync("/v1/tenants/acme/events");
        Assert.Equal(7, JsonDocument.Parse(defaults).RootElement.GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("after=-1", "after")]
    [InlineData("after=abc", "after")]
    [InlineData("after=99999999999999999999", "after")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=%201", "limit")]
    public async Task ListEvents_BadParameter_IsAValidationProblemNamingIt(string query, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        await EventTestSupport.TenantAsync(silo, "acme", url: null);

        using var response = await silo.OperatorClient().GetAsync($"/v1/tenants/acme/events?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.Equal(field, problem.GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task ListEvents_AnotherTenantsKey_IsNotFoundAndSeesOnlyItsOwn()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        var acmeId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        var rivalId = await EventTestSupport.TenantAsync(silo, "rival", url: null);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", acmeId, 1, 2);
        await EventTestSupport.OpenAsync(silo, "gw-1", rivalId, 3);
        var rival = silo.ClientWith(await InternalTestFixture.InsertTenantKeyAsync(silo, rivalId));

        using var foreign = await rival.GetAsync("/v1/tenants/acme/events");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("not_found", JsonDocument.Parse(await foreign.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.DoesNotContain("gw-1.1", await foreign.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var own = await EventTestSupport.EventsAsync(rival, "rival");
        Assert.Equal(["gw-1.3"], own.Items.Select(i => i.Event.ConnectionId));
        Assert.Equal([1L], own.Items.Select(i => i.Event.Sequence));
        Assert.Equal(1, own.LastSequence);

        using var anonymous = await silo.AnonymousClient().GetAsync("/v1/tenants/acme/events");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
