using System.Net;
using Platform.Testing;

namespace Platform.Silo.Tests;

public sealed class HealthTests
{
    [Fact]
    public async Task Healthz_AfterStart_AnswersOkWithoutAuthentication()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.AnonymousClient().GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AnyV1Endpoint_WithoutKey_Answers401Problem()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.AnonymousClient().GetAsync(new Uri("/v1/tenants", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"code\":\"unauthenticated\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
