using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class ClusterSecretAuthenticationHandlerTests
{
    private static readonly RegisterGatewayRequest Registration = new("gw-auth", "1.0.0", "http://127.0.0.1:1", ["ws:8080"]);

    [Fact]
    public async Task Register_WithoutSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.AnonymousClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("\"code\":\"unauthenticated\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithWrongSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.ClientWith(silo.ClusterSecret + "x").PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task InternalRoutes_WithTenantOrOperatorKey_Answer401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var tenantKey = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);

        var asTenant = await silo.ClientWith(tenantKey).GetAsync(new Uri($"{InternalRoutes.ConfigWatch}?after=0&waitSeconds=0", UriKind.Relative));
        var asOperator = await silo.OperatorClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, asTenant.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, asOperator.StatusCode);
        // The tenant key itself is valid on the public API.
        var own = await silo.ClientWith(tenantKey).GetAsync(new Uri("/v1/tenants/acme/connections", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task PublicApi_WithClusterSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");

        var gateways = await silo.GatewayClient().GetAsync(new Uri("/v1/gateways", UriKind.Relative));
        var connections = await silo.GatewayClient().GetAsync(new Uri("/v1/tenants/acme/connections", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, gateways.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, connections.StatusCode);
    }

    [Fact]
    public async Task Register_WithClusterSecret_Succeeds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
