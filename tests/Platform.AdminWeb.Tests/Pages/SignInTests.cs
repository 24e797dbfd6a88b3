using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Operators;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Pages;

public sealed class SignInTests
{
    [Fact]
    public async Task SignIn_RightPassword_RedirectsToReturnUrlAndNamesOperator()
    {
        await using var app = await PortalApp.StartAsync();
        var client = app.Browser();

        var response = await PortalApp.PostFormAsync(client, "/SignIn",
            new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = PortalApp.OperatorPassword, ["ReturnUrl"] = "/Gateways" });
        var page = await client.GetStringAsync(new Uri("/Gateways", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/Gateways", response.Headers.Location?.OriginalString);
        Assert.Contains(PortalApp.OperatorName, page, StringComparison.Ordinal);
        Assert.Contains("Signed in as alice", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_ExternalReturnUrl_RedirectsHomeInstead()
    {
        await using var app = await PortalApp.StartAsync();

        var response = await PortalApp.PostFormAsync(app.Browser(), "/SignIn",
            new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = PortalApp.OperatorPassword, ["ReturnUrl"] = "https://evil.example/" });

        Assert.Equal("/", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task SignIn_WrongPassword_ShowsGenericErrorWithoutSession()
    {
        await using var app = await PortalApp.StartAsync();
        var client = app.Browser();

        var response = await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = "not the password" });
        var body = await response.Content.ReadAsStringAsync();
        var home = await client.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Sign-in failed.", body, StringComparison.Ordinal);
        Assert.DoesNotContain("not the password", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
    }

    [Fact]
    public async Task SignIn_UnknownUserWrongPasswordAndLockedAccount_ShowOneMessage()
    {
        await using var app = await PortalApp.StartAsync();
        using (var op = app.SiloClient(app.Silo.OperatorKey))
        {
            (await op.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("bob", PortalApp.OperatorPassword), PlatformJson.Options)).EnsureSuccessStatusCode();
        }

        var client = app.Browser();
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < OperatorPasswordPolicy.MaxFailedAttempts; i++)
        {
            // The last of these is the failure that locks bob's account.
            answers.Add(await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = "bob", ["Password"] = "wrong password " + i }));
        }

        answers.Add(await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = "bob", ["Password"] = PortalApp.OperatorPassword }));
        answers.Add(await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = "nobody", ["Password"] = PortalApp.OperatorPassword }));
        answers.Add(await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = "not the password" }));

        var first = await ErrorShownAsync(answers[0]);
        foreach (var answer in answers)
        {
            Assert.Equal(first, await ErrorShownAsync(answer));
        }

        Assert.StartsWith("401 Sign-in failed.", first, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync(new Uri("/", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task SignIn_TenantApiKey_CannotSignIn()
    {
        await using var app = await PortalApp.StartAsync();
        var tenantKey = await CreateTenantKeyAsync(app);
        var client = app.Browser();

        var keyAsPassword = await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = tenantKey });
        var keyAsBoth = await PortalApp.PostFormAsync(client, "/SignIn", new() { ["UserName"] = tenantKey, ["Password"] = tenantKey });
        using var asTenant = app.SiloClient(tenantKey);
        var verifyWithTenantKey = await asTenant.PostAsJsonAsync("/v1/operators/verify",
            new VerifyOperatorRequest(PortalApp.OperatorName, PortalApp.OperatorPassword), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, keyAsPassword.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, keyAsBoth.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, verifyWithTenantKey.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync(new Uri("/", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task ProtectedPage_WithoutSession_RedirectsToSignInKeepingThePage()
    {
        await using var app = await PortalApp.StartAsync();

        var response = await app.Browser().GetAsync(new Uri("/Tenants?Search=acme", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/SignIn?ReturnUrl=%2FTenants%3FSearch%3Dacme", response.Headers.Location?.PathAndQuery ?? response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task ExpiredSession_RedirectsToSignInKeepingThePage()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PortalApp.StartAsync(clock);
        var client = await app.SignedInAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/Gateways", UriKind.Relative))).StatusCode);

        clock.Advance(TimeSpan.FromHours(9));
        var response = await client.GetAsync(new Uri("/Gateways", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.EndsWith("/SignIn?ReturnUrl=%2FGateways", response.Headers.Location?.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredSession_PostedForm_SignInReturnsToTheFormsPage()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PortalApp.StartAsync(clock);
        var client = await app.SignedInAsync();
        var page = await client.GetStringAsync(new Uri("/Tenants", UriKind.Relative));
        var token = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;

        clock.Advance(TimeSpan.FromHours(9));
        var post = await client.PostAsync(new Uri("/Tenants?handler=Create", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["NewSlug"] = "acme",
            ["NewDisplayName"] = "Acme",
            ["__RequestVerificationToken"] = token,
        }));

        // The form's page, not its handler: a GET of "?handler=Create" after sign-in would render no list.
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        Assert.EndsWith("/SignIn?ReturnUrl=%2FTenants", post.Headers.Location?.OriginalString, StringComparison.Ordinal);
        var signIn = await PortalApp.PostFormAsync(client, "/SignIn?ReturnUrl=%2FTenants",
            new() { ["UserName"] = PortalApp.OperatorName, ["Password"] = PortalApp.OperatorPassword });
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Equal("/Tenants", signIn.Headers.Location?.OriginalString);
        using var op = app.SiloClient(app.Silo.OperatorKey);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync(new Uri("/v1/tenants/acme", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task ExpiredSession_LivePollingRequest_RedirectsToSignInForThePageItself()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PortalApp.StartAsync(clock);
        var client = await app.SignedInAsync();

        clock.Advance(TimeSpan.FromHours(9));
        var poll = await client.GetAsync(new Uri("/Tenants/acme/Connections?handler=Data", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, poll.StatusCode);
        Assert.EndsWith("/SignIn?ReturnUrl=%2FTenants%2Facme%2FConnections", poll.Headers.Location?.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        await using var app = await PortalApp.StartAsync();
        var client = await app.SignedInAsync();

        var response = await PortalApp.PostFormAsync(client, "/SignOut", [], tokenFrom: "/Gateways");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync(new Uri("/Gateways", UriKind.Relative))).StatusCode);
    }

    /// <summary>The status and the text of the sign-in page's error message.</summary>
    private static async Task<string> ErrorShownAsync(HttpResponseMessage response)
    {
        var page = await response.Content.ReadAsStringAsync();
        var error = System.Text.RegularExpressions.Regex.Match(page, "<p [^>]*id=\"signin-error\">([^<]*)</p>");
        Assert.True(error.Success, page);
        return $"{(int)response.StatusCode} {System.Net.WebUtility.HtmlDecode(error.Groups[1].Value)}";
    }

    private static async Task<string> CreateTenantKeyAsync(PortalApp app)
    {
        using var op = app.SiloClient(app.Silo.OperatorKey);
        var tenant = await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options);
        tenant.EnsureSuccessStatusCode();
        var id = (await tenant.Content.ReadFromJsonAsync<TenantResponse>(PlatformJson.Options))!.Id;
        // Written in the silo's own key format, so the test does not depend on the key endpoints.
        var keyId = Guid.NewGuid();
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await using var source = app.Database.CreateDataSource();
        await using var connection = await source.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
            VALUES (@keyId, @id, 'test', 'tk_', @hash, now())
            """, new { keyId, id, hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)) });
        var key = $"tk_{keyId:N}_{secret}";
        using var asTenant = app.SiloClient(key);
        Assert.Equal(HttpStatusCode.OK, (await asTenant.GetAsync(new Uri("/v1/tenants/acme", UriKind.Relative))).StatusCode);
        return key;
    }
}
