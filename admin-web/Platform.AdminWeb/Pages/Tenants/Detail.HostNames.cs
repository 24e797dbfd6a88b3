using Microsoft.AspNetCore.Mvc;
using Platform.Contracts.HostNames;

namespace Platform.AdminWeb.Pages.Tenants;

/// <summary>The tenant page's host names: each claim with its status and challenge, DNS checks and operator approval.</summary>
public sealed partial class DetailModel
{
    /// <summary>Every name the tenant claims; only verified ones route.</summary>
    public IReadOnlyList<HostNameResponse> HostNames { get; private set; } = [];

    /// <summary>Why the list could not be read, when it could not.</summary>
    public string? HostNamesProblem { get; private set; }

    /// <summary>Asks the silo to look up the name's challenge TXT record now.</summary>
    public async Task<IActionResult> OnPostVerifyHostNameAsync(string name, CancellationToken cancellationToken)
    {
        var result = await silo.VerifyHostNameAsync(Slug, name, cancellationToken);
        return HostNameDone(result.Problem, $"{name} is verified by DNS; gateways route it within seconds.");
    }

    /// <summary>Verifies the name on the operator's word, without DNS.</summary>
    public async Task<IActionResult> OnPostApproveHostNameAsync(string name, CancellationToken cancellationToken)
    {
        var result = await silo.ApproveHostNameAsync(Slug, name, cancellationToken);
        return HostNameDone(result.Problem, $"{name} approved; gateways route it within seconds.");
    }

    private RedirectToPageResult HostNameDone(Silo.SiloProblem? problem, string message)
    {
        if (problem is null)
        {
            Flash(message);
        }
        else
        {
            Flash(problem.Message, success: false);
        }

        return RedirectToPage(null, null, new { Slug }, "host-names");
    }

    private async Task LoadHostNamesAsync(CancellationToken cancellationToken)
    {
        var names = await silo.ListHostNamesAsync(Slug, cancellationToken);
        HostNames = names.Value?.Items ?? [];
        HostNamesProblem = names.Problem?.Message;
    }
}
