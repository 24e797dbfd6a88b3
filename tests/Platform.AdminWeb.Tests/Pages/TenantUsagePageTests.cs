using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>The usage chart of the tenant detail page, drawn on the server from the silo's usage API.</summary>
public sealed partial class TenantUsagePageTests
{
    [Fact]
    public async Task Detail_Usage_OneBarPerDayScaledToTheBusiestWithTheTotals()
    {
        await using var app = await PortalApp.StartAsync();
        TenantResponse acme;
        using (var op = app.SiloClient(app.Silo.OperatorKey))
        {
            var created = await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options);
            created.EnsureSuccessStatusCode();
            acme = (await created.Content.ReadFromJsonAsync<TenantResponse>(PlatformJson.Options))!;
            (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("beta", "Beta"), PlatformJson.Options)).EnsureSuccessStatusCode();
        }

        // Hours as the silo's meter stores them: two protocols three days ago, one earlier today; and another tenant's,
        // which must not show.
        var today = new DateTimeOffset(DateTimeOffset.UtcNow.UtcDateTime.Date, TimeSpan.Zero);
        var earlier = today.AddDays(-3).AddHours(5);
        await using (var dataSource = app.Database.CreateDataSource())
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            const string insert = """
                INSERT INTO usage_hours (tenant_id, hour, protocol, connection_seconds, peak_concurrent, connections_opened,
                                         messages_in, messages_out, bytes_in, bytes_out)
                VALUES (@tenantId, @hour, @protocol, @seconds, @peak, @opened, @messagesIn, @messagesOut, @bytesIn, @bytesOut)
                """;
            await connection.ExecuteAsync(insert, new { tenantId = acme.Id, hour = earlier, protocol = "wss", seconds = 7200m, peak = 4L, opened = 6L, messagesIn = 10L, messagesOut = 12L, bytesIn = 3000L, bytesOut = 5000L });
            await connection.ExecuteAsync(insert, new { tenantId = acme.Id, hour = earlier, protocol = "tcp", seconds = 1800m, peak = 2L, opened = 1L, messagesIn = 0L, messagesOut = 0L, bytesIn = 1000L, bytesOut = 1000L });
            await connection.ExecuteAsync(insert, new { tenantId = acme.Id, hour = today, protocol = "wss", seconds = 0m, peak = 1L, opened = 1L, messagesIn = 1L, messagesOut = 1L, bytesIn = 2500L, bytesOut = 2500L });
            var beta = await connection.ExecuteScalarAsync<Guid>("SELECT id FROM tenants WHERE slug = 'beta'");
            await connection.ExecuteAsync(insert, new { tenantId = beta, hour = today, protocol = "wss", seconds = 1m, peak = 99L, opened = 99L, messagesIn = 99L, messagesOut = 99L, bytesIn = 999_999L, bytesOut = 999_999L });
        }

        var client = await app.SignedInAsync();
        var html = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));

        Assert.Contains("id=\"usage-chart\"", html, StringComparison.Ordinal);
        var bars = Bar().Matches(html).ToDictionary(m => m.Groups["day"].Value, m => (Bytes: long.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture),
            Height: double.Parse(m.Groups["height"].Value, CultureInfo.InvariantCulture)));
        Assert.InRange(bars.Count, 30, 31);
        Assert.Equal(10_000L, bars[Day(earlier)].Bytes);
        Assert.Equal(5_000L, bars[Day(today)].Bytes);
        // The busiest day fills the chart's height (112 units); the others in proportion; empty days have no height.
        Assert.Equal(112, bars[Day(earlier)].Height);
        Assert.Equal(56, bars[Day(today)].Height);
        Assert.Equal(bars.Count - 2, bars.Values.Count(b => b.Bytes == 0 && b.Height == 0));
        var totals = Totals().Match(html).Value;
        Assert.Contains("<dt>Bytes in / out</dt><dd>6.3 KiB / 8.3 KiB</dd>", totals, StringComparison.Ordinal);
        Assert.Contains("<dt>Messages in / out</dt><dd>11 / 13</dd>", totals, StringComparison.Ordinal);
        Assert.Contains("<dt>Connections opened</dt><dd>8</dd>", totals, StringComparison.Ordinal);
        Assert.Contains("<dt>Connection-hours</dt><dd>2.5</dd>", totals, StringComparison.Ordinal);
        Assert.Contains("<dt>Peak concurrent</dt><dd>4</dd>", totals, StringComparison.Ordinal);
    }

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    [GeneratedRegex("<rect class=\"bar\" data-day=\"(?<day>[0-9-]+)\" data-bytes=\"(?<bytes>[0-9]+)\"\\s+x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"[0-9.]+\" height=\"(?<height>[0-9.]+)\"")]
    private static partial Regex Bar();

    [GeneratedRegex("<dl id=\"usage-totals\">.*?</dl>", RegexOptions.Singleline)]
    private static partial Regex Totals();
}
