using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Audit;

namespace Platform.AdminWeb.Pages;

public sealed class AuditModel(SiloClient silo) : PortalPageModel
{
    public const int PageSize = 50;

    [BindProperty(SupportsGet = true)]
    public string? Tenant { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Actor { get; set; }

    [BindProperty(SupportsGet = true, Name = "p")]
    public int PageNumber { get; set; } = 1;

    public IReadOnlyList<AuditEntryResponse> Entries { get; private set; } = [];

    public long Total { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        PageNumber = Math.Max(1, PageNumber);
        var result = await silo.ListAuditAsync(Tenant, Actor, (PageNumber - 1) * PageSize, PageSize, cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
        }

        Entries = result.Value?.Items ?? [];
        Total = result.Value?.Total ?? 0;
    }
}
