using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Connections;

namespace Platform.AdminWeb.Pages.Connections;

public sealed class DetailModel(SiloClient silo) : PortalPageModel
{
    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = "";

    public ConnectionResponse? Connection { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var result = await silo.GetConnectionAsync(Slug, Id, cancellationToken);
        if (result.Problem is { } problem)
        {
            return NotFoundOrProblem(problem);
        }

        Connection = result.Value;
        return Page();
    }

    public async Task<IActionResult> OnPostSendAsync(string? text, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(text))
        {
            Flash("Enter a message to send.", success: false);
            return RedirectToPage(new { Slug, Id });
        }

        var result = await silo.SendMessageAsync(Slug, Id, new SendMessageRequest(Text: text), cancellationToken);
        Flash(result.Problem is { } p ? $"Not sent: {p.Message}" : $"Message of {System.Text.Encoding.UTF8.GetByteCount(text)} bytes queued on {Id}.", result.Ok);
        return RedirectToPage(new { Slug, Id });
    }

    public async Task<IActionResult> OnPostDisconnectAsync(int code, string? reason, CancellationToken cancellationToken)
    {
        var result = await silo.DisconnectAsync(Slug, Id, new DisconnectRequest(code == 0 ? 1000 : code, string.IsNullOrWhiteSpace(reason) ? null : reason), cancellationToken);
        if (result.Problem is { } p)
        {
            Flash($"Not disconnected: {p.Message}", success: false);
            return RedirectToPage(new { Slug, Id });
        }

        Flash($"Connection {Id} disconnected.");
        return RedirectToPage("/Connections/Index", new { Slug });
    }
}
