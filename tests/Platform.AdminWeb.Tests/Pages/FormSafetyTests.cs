using System.Net;

namespace Platform.AdminWeb.Tests.Pages;

public sealed class FormSafetyTests
{
    [Fact]
    public async Task Post_WithoutAntiforgeryToken_IsRejected()
    {
        await using var app = await PortalApp.StartAsync();
        var anonymous = app.Browser();
        var signedIn = await app.SignedInAsync();

        var signIn = await anonymous.PostAsync(new Uri("/SignIn", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["UserName"] = PortalApp.OperatorName,
            ["Password"] = PortalApp.OperatorPassword,
        }));
        var create = await signedIn.PostAsync(new Uri("/Tenants?handler=Create", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["NewSlug"] = "acme",
            ["NewDisplayName"] = "Acme",
        }));
        var list = await signedIn.GetStringAsync(new Uri("/Tenants", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
        Assert.Null(signIn.Headers.Location);
        Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
        Assert.DoesNotContain("/Tenants/acme", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyPage_CarriesSecurityHeaders()
    {
        await using var app = await PortalApp.StartAsync();

        var response = await app.Browser().GetAsync(new Uri("/SignIn", UriKind.Relative));

        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.DoesNotContain("<script>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateOperator_ShortPassword_ShowsProblemNextToField()
    {
        await using var app = await PortalApp.StartAsync();
        var client = await app.SignedInAsync();

        var response = await PortalApp.PostFormAsync(client, "/Operators?handler=Create", new() { ["NewUserName"] = "bob", ["password"] = "short" }, tokenFrom: "/Operators");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var passwordField = body.IndexOf("id=\"new-password\"", StringComparison.Ordinal);
        var error = body.IndexOf("<span class=\"field-error\">A password is 12..256 characters.</span>", StringComparison.Ordinal);
        Assert.True(passwordField > 0 && error > passwordField, "The password error is rendered right after the password field.");
        Assert.DoesNotContain(">short<", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTenant_InvalidSlug_ShowsProblemNextToSlugField()
    {
        await using var app = await PortalApp.StartAsync();
        var client = await app.SignedInAsync();

        var response = await PortalApp.PostFormAsync(client, "/Tenants?handler=Create", new() { ["NewSlug"] = "Not A Slug", ["NewDisplayName"] = "Acme" }, tokenFrom: "/Tenants");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var slugField = body.IndexOf("id=\"NewSlug\"", StringComparison.Ordinal);
        var displayField = body.IndexOf("id=\"NewDisplayName\"", StringComparison.Ordinal);
        var error = body.IndexOf("class=\"field-error\"", StringComparison.Ordinal);
        Assert.True(slugField > 0 && error > slugField && error < displayField, "The slug error sits between the slug and display-name fields.");
    }

    [Fact]
    public async Task CreateTenant_Valid_RedirectsToDetailWithFlash()
    {
        await using var app = await PortalApp.StartAsync();
        var client = await app.SignedInAsync();

        var response = await PortalApp.PostFormAsync(client, "/Tenants?handler=Create", new() { ["NewSlug"] = "acme", ["NewDisplayName"] = "Acme Devices" }, tokenFrom: "/Tenants");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/Tenants/acme", response.Headers.Location?.OriginalString);
    }
}
