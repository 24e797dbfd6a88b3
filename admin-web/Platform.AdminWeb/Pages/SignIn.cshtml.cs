using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Operators;
using Platform.Contracts.Problems;

namespace Platform.AdminWeb.Pages;

public sealed class SignInModel(SiloClient silo) : PortalPageModel
{
    internal static readonly string SignInFailed =
        $"Sign-in failed. Check the user name and password; after {OperatorPasswordPolicy.MaxFailedAttempts} failed attempts in a row " +
        $"an account is locked for {OperatorPasswordPolicy.LockoutMinutes} minutes.";

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
            // One message for an unknown name, a wrong password and a locked account (a silo from before
            // 401-for-all may still say operator_locked_out): the page must not tell which names exist.
            var refused = problem.Code is ErrorCodes.InvalidCredentials or ErrorCodes.OperatorLockedOut
                or ErrorCodes.Unauthenticated or ErrorCodes.Forbidden;
            Error = refused ? SignInFailed : "Sign-in is unavailable right now: " + problem.Message;
            Response.StatusCode = refused ? StatusCodes.Status401Unauthorized : StatusCodes.Status503ServiceUnavailable;
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
