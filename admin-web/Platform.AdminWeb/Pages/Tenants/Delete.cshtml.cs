using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Pages.Tenants;

public sealed class DeleteModel(SiloClient silo) : PortalPageModel
{
    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    [BindProperty]
    public string? Confirmation { get; set; }

    public TenantResponse? Tenant { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var result = await silo.GetTenantAsync(Slug, cancellationToken);
        if (result.Problem is { } problem)
        {
            return NotFoundOrProblem(problem);
        }

        Tenant = result.Value;
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!string.Equals(Confirmation?.Trim(), Slug, StringComparison.Ordinal))
        {
            AddFieldError("confirmation", $"Type '{Slug}' exactly to confirm.");
            Tenant = (await silo.GetTenantAsync(Slug, cancellationToken)).Value;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var result = await silo.DeleteTenantAsync(Slug, cancellationToken);
        if (result.Problem is { } problem)
        {
            Flash($"Tenant '{Slug}' was not deleted: {problem.Message}", success: false);
            return RedirectToPage("/Tenants/Index");
        }

        Flash($"Tenant '{Slug}' deleted with its configuration, certificates, keys and connections.");
        return RedirectToPage("/Tenants/Index");
    }
}
