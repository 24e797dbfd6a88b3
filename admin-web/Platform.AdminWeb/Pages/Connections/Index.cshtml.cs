using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;

namespace Platform.AdminWeb.Pages.Connections;

public sealed class IndexModel(SiloClient silo, TimeProvider time) : PortalPageModel
{
    public static readonly string[] Protocols =
        [ConnectionProtocols.Tcp, ConnectionProtocols.Tls, ConnectionProtocols.Ws, ConnectionProtocols.Wss, ConnectionProtocols.Dtls];

    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string? Protocol { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? RemoteAddress { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Gateway { get; set; }

    public IReadOnlyList<ConnectionResponse> Connections { get; private set; } = [];

    public long Total { get; private set; }

    public IReadOnlyList<GatewayResponse> Gateways { get; private set; } = [];

    public DateTimeOffset Now { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var result = await silo.ListConnectionsAsync(Slug, Filter, cancellationToken);
        if (result.Problem is { Status: 404 })
        {
            return NotFound();
        }

        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
        }

        Now = time.GetUtcNow();
        Connections = result.Value?.Items ?? [];
        Total = result.Value?.Total ?? 0;
        Gateways = (await silo.ListGatewaysAsync(cancellationToken)).Value?.Items ?? [];
        return Page();
    }

    /// <summary>The polling endpoint behind the live table: the same list as rows of display strings.</summary>
    public async Task<IActionResult> OnGetDataAsync(CancellationToken cancellationToken)
    {
        var result = await silo.ListConnectionsAsync(Slug, Filter, cancellationToken);
        if (result.Problem is { } problem)
        {
            return new JsonResult(new { error = problem.Message }) { StatusCode = problem.Status == 404 ? 404 : 502 };
        }

        var now = time.GetUtcNow();
        return new JsonResult(new
        {
            total = result.Value!.Total,
            rows = result.Value.Items.Select(c => new
            {
                id = c.Id,
                href = $"/Tenants/{Uri.EscapeDataString(Slug)}/Connections/{Uri.EscapeDataString(c.Id)}",
                protocol = c.Protocol,
                remote = $"{c.RemoteAddress}:{c.RemotePort}",
                gateway = c.GatewayId,
                age = Format.Age(now - c.OpenedAt),
                traffic = $"{Format.Bytes(c.BytesIn)} in / {Format.Bytes(c.BytesOut)} out",
                metadata = Format.Metadata(c.Metadata),
            }),
        });
    }

    private ConnectionFilter Filter => new("open", NullIfEmpty(Protocol), NullIfEmpty(RemoteAddress), NullIfEmpty(Gateway));

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
