using Microsoft.AspNetCore.Mvc;

namespace Platform.AdminWeb.Pages;

[IgnoreAntiforgeryToken]
public sealed class ErrorModel : PortalPageModel
{
    [BindProperty(SupportsGet = true)]
    public int? Status { get; set; }

    public string Heading => Status switch
    {
        400 => "Bad request",
        404 => "Not found",
        _ => "Something went wrong",
    };

    public string Explanation => Status switch
    {
        400 => "The request was refused. If you submitted a form, reload the page and submit it again.",
        404 => "There is nothing at this address. It may have been deleted.",
        _ => "The page could not be shown. The error was logged.",
    };

    public void OnGet()
    {
    }

    public void OnPost()
    {
    }
}
