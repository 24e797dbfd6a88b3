using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Platform.AdminWeb.Silo;

namespace Platform.AdminWeb.Pages;

/// <summary>Flash messages and field errors from silo problems, shared by every page.</summary>
public abstract class PortalPageModel : PageModel
{
    [TempData]
    public string? FlashMessage { get; set; }

    [TempData]
    public string? FlashKind { get; set; }

    /// <summary>Problem shown at the top of the page when it is not about a single field.</summary>
    public SiloProblem? PageProblem { get; protected set; }

    /// <summary>Field errors keyed by form field (the problem's JSON path, list indexes folded into the list).</summary>
    public Dictionary<string, List<string>> FieldErrors { get; } = new(StringComparer.Ordinal);

    protected void Flash(string message, bool success = true)
    {
        FlashMessage = message;
        FlashKind = success ? "ok" : "error";
    }

    /// <summary>Puts each field error next to its field; a problem without field errors goes to the top of the page.</summary>
    protected void ShowProblem(SiloProblem problem, string stripPrefix = "")
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Errors.Count == 0)
        {
            PageProblem = problem;
            return;
        }

        foreach (var error in problem.Errors)
        {
            var field = error.Field.StartsWith(stripPrefix, StringComparison.Ordinal) ? error.Field[stripPrefix.Length..] : error.Field;
            var message = error.Message;
            var bracket = field.IndexOf('[', StringComparison.Ordinal);
            if (bracket > 0 && field.EndsWith(']') && int.TryParse(field.AsSpan(bracket + 1, field.Length - bracket - 2), out var index))
            {
                message = $"Entry {index + 1}: {message}";
                field = field[..bracket];
            }

            AddFieldError(field, message);
        }

        PageProblem = problem with { Errors = [] };
    }

    protected void AddFieldError(string field, string message)
    {
        if (!FieldErrors.TryGetValue(field, out var list))
        {
            FieldErrors[field] = list = [];
        }

        list.Add(message);
    }

    public IReadOnlyList<string> ErrorsFor(string field) => FieldErrors.TryGetValue(field, out var list) ? list : [];

    protected IActionResult NotFoundOrProblem(SiloProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Status == 404)
        {
            return NotFound();
        }

        PageProblem = problem;
        return Page();
    }
}
