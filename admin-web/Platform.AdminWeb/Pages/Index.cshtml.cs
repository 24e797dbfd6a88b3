using System.Collections.Concurrent;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Certificates;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Pages;

public sealed class IndexModel(SiloClient silo, TimeProvider time) : PortalPageModel
{
    /// <summary>The dashboard reads this many tenants' connections and certificates; beyond it, the tenant pages tell.</summary>
    public const int TenantScanLimit = 200;

    public IReadOnlyList<GatewayResponse> Gateways { get; private set; } = [];

    public IReadOnlyDictionary<string, long> PerProtocol { get; private set; } = new Dictionary<string, long>();

    public IReadOnlyList<int> OpenPerMinute { get; private set; } = [];

    public IReadOnlyList<(string Slug, CertificateResponse Certificate)> Expiring { get; private set; } = [];

    public long TenantCount { get; private set; }

    public int TenantsScanned { get; private set; }

    public DateTimeOffset Now { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Now = time.GetUtcNow();
        var gateways = await silo.ListGatewaysAsync(cancellationToken);
        if (gateways.Problem is { } gp)
        {
            PageProblem = gp;
        }

        Gateways = gateways.Value ?? [];
        var tenants = await silo.ListTenantsAsync(null, 0, TenantScanLimit, cancellationToken);
        if (tenants.Problem is { } tp)
        {
            PageProblem ??= tp;
            return;
        }

        TenantCount = tenants.Value!.Total;
        TenantsScanned = tenants.Value.Items.Count;
        var connections = new ConcurrentBag<ConnectionResponse>();
        var expiring = new ConcurrentBag<(string, CertificateResponse)>();
        var horizon = Now.AddDays(30);
        await Parallel.ForEachAsync(tenants.Value.Items, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
            async (tenant, ct) =>
            {
                var list = await silo.ListConnectionsAsync(tenant.Slug, new ConnectionFilter(State: "all", Limit: 1000), ct);
                foreach (var c in list.Value?.Items ?? [])
                {
                    connections.Add(c);
                }

                var certificates = await silo.ListCertificatesAsync(tenant.Slug, ct);
                foreach (var certificate in certificates.Value?.Items ?? [])
                {
                    if (certificate.NotAfter <= horizon)
                    {
                        expiring.Add((tenant.Slug, certificate));
                    }
                }
            });

        PerProtocol = connections.Where(c => c.ClosedAt is null)
            .GroupBy(c => c.Protocol, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);
        OpenPerMinute = Enumerable.Range(0, 61)
            .Select(i => Now.AddMinutes(i - 60))
            .Select(t => connections.Count(c => c.OpenedAt <= t && (c.ClosedAt is null || c.ClosedAt > t)))
            .ToList();
        Expiring = expiring.OrderBy(e => e.Item2.NotAfter).ToList();
    }

    /// <summary>Points of the last hour's line in a 600×120 box.</summary>
    public string ChartPoints()
    {
        var max = Math.Max(1, OpenPerMinute.DefaultIfEmpty(0).Max());
        return string.Join(' ', OpenPerMinute.Select((v, i) =>
            FormattableString.Invariant($"{i * 10},{110 - (v * 100.0 / max):0.#}")));
    }

    public int ChartMax => Math.Max(1, OpenPerMinute.DefaultIfEmpty(0).Max());
}
