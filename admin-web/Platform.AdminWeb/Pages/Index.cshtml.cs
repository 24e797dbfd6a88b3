using Platform.AdminWeb.Silo;
using Platform.Contracts.Gateways;
using Platform.Contracts.Stats;

namespace Platform.AdminWeb.Pages;

/// <summary>The dashboard: figures the silo computes over every tenant (<c>/v1/stats</c>, <c>/v1/refusals</c>), never a page of tenants.</summary>
public sealed class IndexModel(SiloClient silo, TimeProvider time) : PortalPageModel
{
    /// <summary>How far back "recent refusals" reaches.</summary>
    public static readonly TimeSpan RefusalWindow = TimeSpan.FromHours(1);

    /// <summary>Latest refusal buckets listed under the totals.</summary>
    public const int LatestRefusals = 10;

    public IReadOnlyList<GatewayResponse> Gateways { get; private set; } = [];

    public PlatformStatsResponse? Stats { get; private set; }

    public RefusalReport? Refusals { get; private set; }

    public IReadOnlyList<long> OpenPerMinute => Stats?.LastHour.Select(m => m.Open).ToList() ?? [];

    public DateTimeOffset Now { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Now = time.GetUtcNow();
        var gateways = silo.ListGatewaysAsync(cancellationToken);
        var stats = silo.GetStatsAsync(cancellationToken);
        var refusals = silo.ListRefusalsAsync(Now - RefusalWindow, LatestRefusals, cancellationToken);
        await Task.WhenAll(gateways, stats, refusals);

        PageProblem = (await gateways).Problem ?? (await stats).Problem ?? (await refusals).Problem;
        Gateways = (await gateways).Value?.Items ?? [];
        Stats = (await stats).Value;
        Refusals = (await refusals).Value;
    }

    /// <summary>Points of the last hour's line in a 600×120 box.</summary>
    public string ChartPoints()
    {
        var values = OpenPerMinute;
        var max = ChartMax;
        return string.Join(' ', values.Select((v, i) =>
            FormattableString.Invariant($"{i * 600.0 / Math.Max(1, values.Count - 1):0.#},{110 - (v * 100.0 / max):0.#}")));
    }

    public long ChartMax => Math.Max(1, OpenPerMinute.DefaultIfEmpty(0).Max());
}
