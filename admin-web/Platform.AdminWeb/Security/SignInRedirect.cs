using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.WebUtilities;

namespace Platform.AdminWeb.Security;

/// <summary>
/// Where sign-in sends the operator back to. A request without a session may be a form post or the live
/// table's poll, which name a page handler (<c>?handler=Create</c>, <c>?handler=Data</c>); returning to that
/// URL would GET a handler that only answers POST or JSON. The return URL is therefore the page itself.
/// </summary>
internal static class SignInRedirect
{
    public static Task OnRedirectToLogin(RedirectContext<CookieAuthenticationOptions> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var query = QueryHelpers.ParseQuery(request.QueryString.Value);
        query.Remove("handler");
        var returnUrl = request.PathBase + request.Path + QueryString.Create(query);
        context.RedirectUri = request.Scheme + Uri.SchemeDelimiter + request.Host + request.PathBase + context.Options.LoginPath
            + QueryString.Create(context.Options.ReturnUrlParameter, returnUrl);
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
