using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Contracts.Usage;
using Platform.Silo.Tests.Internal;

namespace Platform.Silo.Tests.Usage;

/// <summary>The usage endpoints: who sees what, bad parameters, and the operators' CSV export.</summary>
public sealed class UsageApiTests
{
    [Fact]
    public async Task TenantUsage_AnotherTenantsSlugOrTheExport_NotVisibleToATenantKey()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme", "beta"], "gw-1");
        var (silo, acme, beta) = (setup.Silo, setup["acme"], setup["beta"]);
        var at = DateTimeOffset.UtcNow;
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", acme).Ws(at), InternalTestFixture.Opened("gw-1.2", beta).Ws(at)],
            [new ConnectionCounters("gw-1.1", 11, 12, 1, 1, at), new ConnectionCounters("gw-1.2", 900, 901, 9, 9, at)], [])));
        using var acmeKey = silo.ClientWith(await InternalTestFixture.InsertTenantKeyAsync(silo, acme));

        var own = await acmeKey.GetFromJsonAsync<TenantUsageResponse>(new Uri("/v1/tenants/acme/usage", UriKind.Relative), PlatformJson.Options);
        using var other = await acmeKey.GetAsync(new Uri("/v1/tenants/beta/usage", UriKind.Relative));
        using var missing = await acmeKey.GetAsync(new Uri("/v1/tenants/nobody/usage", UriKind.Relative));
        using var export = await acmeKey.GetAsync(new Uri("/v1/usage", UriKind.Relative));

        Assert.Equal(("acme", 11L, 12L), (own!.Tenant, own.Totals.BytesIn, own.Totals.BytesOut));
        Assert.All(own.Buckets, b => Assert.Equal("wss", b.Protocol));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(await missing.Content.ReadAsStringAsync(), (await other.Content.ReadAsStringAsync()).Replace("beta", "nobody", StringComparison.Ordinal),
            new ProblemBodyComparer());
        Assert.Equal(HttpStatusCode.Forbidden, export.StatusCode);
    }

    [Theory]
    [InlineData("granularity=week", "granularity", "invalid_choice")]
    [InlineData("from=yesterday", "from", "invalid_format")]
    [InlineData("to=2026-13-01", "to", "invalid_format")]
    [InlineData("from=2026-02-01&to=2026-01-01", "to", "out_of_range")]
    [InlineData("from=2026-01-01&to=2026-06-01", "to", "out_of_range")]
    [InlineData("from=2026-01-01T00:00:00%2B99:00", "from", "invalid_format")]
    public async Task TenantUsage_BadParameters_ValidationProblemNamingTheField(string query, string field, string code)
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme"]);
        var silo = setup.Silo;

        using var answer = await silo.OperatorClient().GetAsync(new Uri($"/v1/tenants/acme/usage?{query}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal("validation_failed", problem.RootElement.GetProperty("code").GetString());
        var error = Assert.Single(problem.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal((field, code), (error.GetProperty("field").GetString(), error.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Export_AcceptCsv_OneLinePerTenantHourAndProtocol()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme", "beta"], "gw-1");
        var (silo, acme, beta) = (setup.Silo, setup["acme"], setup["beta"]);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", acme).Ws(at), InternalTestFixture.Opened("gw-1.2", beta).Ws(at) with { Protocol = "tcp", Tls = null, WebSocket = null }],
            [], [new ConnectionClosed(new ConnectionCounters("gw-1.1", 5, 6, 1, 2, at), at.AddSeconds(2), 1000, null)])));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/usage", UriKind.Relative));
        request.Headers.Accept.ParseAdd("text/csv");

        using var answer = await silo.OperatorClient().SendAsync(request);
        var json = await silo.OperatorClient().GetFromJsonAsync<UsageExportResponse>(new Uri("/v1/usage", UriKind.Relative), PlatformJson.Options);

        Assert.Equal("text/csv", answer.Content.Headers.ContentType?.MediaType);
        var lines = (await answer.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("tenant_id,tenant,hour,protocol,connection_seconds,peak_concurrent,connections_opened,messages_in,messages_out,bytes_in,bytes_out", lines[0]);
        var acmeLine = Assert.Single(lines, l => l.StartsWith($"{acme},acme,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(["wss", "2.000", "1", "1", "1", "2", "5", "6"], acmeLine[3..]);
        Assert.Single(lines, l => l.StartsWith($"{beta},beta,", StringComparison.Ordinal) && l.Contains(",tcp,", StringComparison.Ordinal));
        Assert.Equal(2, json!.Rows.Count);
    }

    /// <summary>Two problem documents alike but for their trace ids.</summary>
    private sealed class ProblemBodyComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => Strip(x) == Strip(y);

        public int GetHashCode(string obj) => Strip(obj).GetHashCode(StringComparison.Ordinal);

        private static string Strip(string? body)
        {
            using var document = JsonDocument.Parse(body ?? "{}");
            return string.Join("|", document.RootElement.EnumerateObject().Where(p => p.Name != "traceId").Select(p => $"{p.Name}={p.Value}"));
        }
    }
}
