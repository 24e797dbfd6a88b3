using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Pages;

public sealed class GatewaysModel(SiloClient silo, TimeProvider time) : PortalPageModel
{
    public IReadOnlyList<GatewayResponse> Gateways { get; private set; } = [];

    /// <summary>The control plane's silos, live first.</summary>
    public IReadOnlyList<SiloResponse> Silos { get; private set; } = [];

    public DateTimeOffset Now { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Now = time.GetUtcNow();
        var result = await silo.ListGatewaysAsync(cancellationToken);
        PageProblem ??= result.Problem;
        Gateways = result.Value?.Items ?? [];
        var silos = await silo.ListSilosAsync(cancellationToken);
        PageProblem ??= silos.Problem;
        Silos = silos.Value?.Items ?? [];
    }

    public async Task<IActionResult> OnPostDrainAsync(string id, int deadlineSeconds, CancellationToken cancellationToken)
    {
        var result = await silo.DrainGatewayAsync(id, deadlineSeconds, cancellationToken);
        Flash(result.Problem is { } p
            ? $"Gateway {id} was not drained: {p.Message}"
            : $"Gateway {id} is draining: it refuses new connections{(deadlineSeconds > 0 ? $" and closes the rest after {deadlineSeconds} s" : "")}.", result.Ok);
        return RedirectToPage();
    }
}
