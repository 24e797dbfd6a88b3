using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Pages.Tenants;

public sealed class IndexModel(SiloClient silo) : PortalPageModel
{
    public const int PageSize = 25;

    [BindProperty(SupportsGet = true)]
    public string? Search { get; set; }

    [BindProperty(SupportsGet = true, Name = "p")]
    public int PageNumber { get; set; } = 1;

    [BindProperty]
    public string? NewSlug { get; set; }

    [BindProperty]
    public string? NewDisplayName { get; set; }

    public Page<TenantResponse>? Tenants { get; private set; }

    public int PageCount => Tenants is null ? 1 : (int)Math.Max(1, (Tenants.Total + PageSize - 1) / PageSize);

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostCreateAsync(CancellationToken cancellationToken)
    {
        var result = await silo.CreateTenantAsync(new CreateTenantRequest(NewSlug?.Trim() ?? "", NewDisplayName?.Trim() ?? ""), cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
            await LoadAsync(cancellationToken);
            Response.StatusCode = problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway;
            return Page();
        }

        Flash($"Tenant '{result.Value!.Slug}' created.");
        return RedirectToPage("/Tenants/Detail", new { slug = result.Value.Slug });
    }

    public async Task<IActionResult> OnPostSuspendAsync(string slug, CancellationToken cancellationToken) =>
        Done(await silo.SuspendTenantAsync(slug, cancellationToken), $"Tenant '{slug}' suspended: new connections are refused and open ones closed.");

    public async Task<IActionResult> OnPostResumeAsync(string slug, CancellationToken cancellationToken) =>
        Done(await silo.ResumeTenantAsync(slug, cancellationToken), $"Tenant '{slug}' resumed.");

    private RedirectToPageResult Done<T>(SiloResult<T> result, string message)
    {
        if (result.Problem is { } problem)
        {
            Flash(problem.Message, success: false);
        }
        else
        {
            Flash(message);
        }

        return RedirectToPage(new { Search, p = PageNumber });
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        PageNumber = Math.Max(1, PageNumber);
        var result = await silo.ListTenantsAsync(Search, (PageNumber - 1) * PageSize, PageSize, cancellationToken);
        if (result.Problem is { } problem)
        {
            PageProblem ??= problem;
        }

        Tenants = result.Value;
    }
}
