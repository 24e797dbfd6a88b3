using System.Globalization;
using Platform.Contracts.Usage;

namespace Platform.AdminWeb.Pages.Tenants;

/// <summary>The tenant page's usage: the last 30 days per UTC day as server-drawn SVG bars, with the totals.</summary>
public sealed partial class DetailModel
{
    /// <summary>Chart geometry: the drawing is <see cref="ChartWidth"/> by <see cref="ChartHeight"/> user units.</summary>
    public const int ChartWidth = 600;

    public const int ChartHeight = 140;

    private const int ChartTop = 12;

    private const int ChartBottom = 124;

    /// <summary>The usage the silo answered, or null when it could not be read.</summary>
    public TenantUsageResponse? Usage { get; private set; }

    /// <summary>Why the usage could not be read, when it could not.</summary>
    public string? UsageProblem { get; private set; }

    /// <summary>Every day of the range, oldest first, with its figures summed over protocols (zero when nothing was used).</summary>
    public IReadOnlyList<UsageDay> UsageDays { get; private set; } = [];

    /// <summary>The tallest day's traffic (bytes in and out), at least 1, which the chart's height stands for.</summary>
    public long UsageChartMax => Math.Max(1, UsageDays.Select(d => d.Bytes).DefaultIfEmpty(0).Max());

    /// <summary>The bar of day <paramref name="index"/>: x, width, y and height in the chart's units, invariant-formatted.</summary>
    public (string X, string Width, string Y, string Height) UsageBar(int index)
    {
        var slot = (double)ChartWidth / Math.Max(1, UsageDays.Count);
        var height = UsageDays[index].Bytes * (double)(ChartBottom - ChartTop) / UsageChartMax;
        return (N(index * slot + 1), N(Math.Max(1, slot - 2)), N(ChartBottom - height), N(height));
    }

    private static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private async Task LoadUsageAsync(CancellationToken cancellationToken)
    {
        var usage = await silo.GetDailyUsageAsync(Slug, cancellationToken);
        UsageProblem = usage.Problem?.Message;
        Usage = usage.Value;
        if (Usage is null)
        {
            return;
        }

        var byDay = Usage.Buckets.GroupBy(b => b.Start.UtcDateTime.Date).ToDictionary(g => g.Key, g => g.ToList());
        var days = new List<UsageDay>();
        for (var day = Usage.From.UtcDateTime.Date; day < Usage.To.UtcDateTime; day = day.AddDays(1))
        {
            var buckets = byDay.GetValueOrDefault(day) ?? [];
            days.Add(new UsageDay(
                DateOnly.FromDateTime(day),
                buckets.Sum(b => b.Usage.BytesIn + b.Usage.BytesOut),
                buckets.Sum(b => b.Usage.MessagesIn + b.Usage.MessagesOut),
                buckets.Sum(b => b.Usage.ConnectionsOpened),
                buckets.Sum(b => b.Usage.ConnectionSeconds),
                buckets.Select(b => b.Usage.PeakConcurrent).DefaultIfEmpty(0).Max()));
        }

        UsageDays = days;
    }

    /// <summary>One day of the chart.</summary>
    public sealed record UsageDay(DateOnly Day, long Bytes, long Messages, long Opened, decimal ConnectionSeconds, long Peak)
    {
        /// <summary>What the bar's tooltip says.</summary>
        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"{Day:yyyy-MM-dd}: {Format.Bytes(Bytes)} in and out, {Messages} messages, {Opened} connections opened, {ConnectionSeconds / 3600m:0.##} connection-hours, peak {Peak}");
    }
}
