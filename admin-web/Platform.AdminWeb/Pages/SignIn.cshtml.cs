using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Problems;

namespace Platform.AdminWeb.Pages;

public sealed class SignInModel(SiloClient silo) : PortalPageModel
{
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public string? UserName { get; set; }

    [BindProperty]
    public string? Password { get; set; }

    public string? Error { get; private set; }

    public bool Expired => !string.IsNullOrEmpty(ReturnUrl) && Request.Method == HttpMethods.Get;

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(UserName) || string.IsNullOrEmpty(Password))
        {
            Error = "Enter your user name and password.";
            return Page();
        }

        var result = await silo.VerifyOperatorAsync(UserName.Trim(), Password, cancellationToken);
        Password = null;
        if (result.Problem is { } problem)
        {
            Error = problem.Code switch
            {
                ErrorCodes.OperatorLockedOut => "This account is locked after too many failed sign-ins. " + problem.Detail,
                ErrorCodes.InvalidCredentials or ErrorCodes.Unauthenticated or ErrorCodes.Forbidden => "The user name or password is incorrect.",
                _ => "Sign-in is unavailable right now: " + problem.Message,
            };
            Response.StatusCode = problem.Code == ErrorCodes.OperatorLockedOut ? StatusCodes.Status423Locked : StatusCodes.Status401Unauthorized;
            return Page();
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, result.Value!.UserName), new Claim("platform:portal", "operator")],
            CookieAuthenticationDefaults.AuthenticationScheme);
        await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        Flash($"Signed in as {result.Value.UserName}.");
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl : "/");
    }
}
