using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Operators;

namespace Platform.AdminWeb.Pages;

public sealed class OperatorsModel(SiloClient silo) : PortalPageModel
{
    [BindProperty]
    public string? NewUserName { get; set; }

    public IReadOnlyList<OperatorResponse> Operators { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostCreateAsync(string? password, CancellationToken cancellationToken)
    {
        var result = await silo.CreateOperatorAsync(new CreateOperatorRequest(NewUserName?.Trim() ?? "", password ?? ""), cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
            await LoadAsync(cancellationToken);
            Response.StatusCode = problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway;
            return Page();
        }

        Flash($"Operator '{result.Value!.UserName}' created. Give them the password through a channel of your choice; it is not shown again.");
        return RedirectToPage();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var result = await silo.ListOperatorsAsync(cancellationToken);
        PageProblem ??= result.Problem;
        Operators = result.Value?.Items ?? [];
    }
}
