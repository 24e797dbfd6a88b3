using System.Net;
using System.Text.RegularExpressions;
using Platform.AdminWeb.Tests.Support;

namespace Platform.AdminWeb.Tests.Security;

public sealed partial class ForwardedHeadersTests
{
    [Fact]
    public async Task SignIn_ThroughTlsTerminatingKnownProxy_CookiesAreSecureAndHstsIsSent()
    {
        await using var app = await PortalApp.StartAsync(useKestrel: true, portalSettings: BehindProxy());
        await using var proxy = await TlsTerminatingProxy.StartAsync(app.BaseAddress);
        using var client = proxy.Client(new CookieContainer());

        var page = await client.GetAsync(new Uri("/SignIn", UriKind.Relative));
        var signIn = await PostSignInAsync(client, await page.Content.ReadAsStringAsync());
        var home = await client.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("secure", CookieAttributes(page, "platform.af"));
        Assert.True(page.Headers.Contains("Strict-Transport-Security"), "no HSTS over https");
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Contains("secure", CookieAttributes(signIn, "platform.portal"));
        // The browser-like client sends Secure cookies back over https only: the session works through the proxy.
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
    }

    [Fact]
    public async Task ForwardedProto_FromAddressNotListed_ChangesNothing()
    {
        await using var app = await PortalApp.StartAsync(useKestrel: true, portalSettings: BehindProxy());
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
        {
            BaseAddress = app.BaseAddress,
        };
        // The test connects from 127.0.0.1; only 127.0.0.2 is a known proxy.
        client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.9");

        var page = await client.GetAsync(new Uri("/SignIn", UriKind.Relative));
        var signIn = await PostSignInAsync(client, await page.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.DoesNotContain("secure", CookieAttributes(page, "platform.af"));
        Assert.False(page.Headers.Contains("Strict-Transport-Security"), "HSTS over plain http");
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.DoesNotContain("secure", CookieAttributes(signIn, "platform.portal"));
    }

    [Fact]
    public async Task Request_ForHostNotAllowed_Answers400()
    {
        await using var byDefault = await PortalApp.StartAsync();
        await using var configured = await PortalApp.StartAsync(useKestrel: true, portalSettings: BehindProxy());
        using var direct = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = configured.BaseAddress };

        var defaultOther = await SendWithHostAsync(byDefault.Browser(), "evil.example");
        var defaultLocal = await SendWithHostAsync(byDefault.Browser(), "localhost");
        var configuredOther = await SendWithHostAsync(direct, "evil.example");
        var configuredProxyName = await SendWithHostAsync(direct, TlsTerminatingProxy.HostName);

        Assert.Equal(HttpStatusCode.BadRequest, defaultOther);
        Assert.Equal(HttpStatusCode.OK, defaultLocal);
        Assert.Equal(HttpStatusCode.BadRequest, configuredOther);
        Assert.Equal(HttpStatusCode.OK, configuredProxyName);
    }

    /// <summary>The portal as an operator would run it behind <see cref="TlsTerminatingProxy"/>.</summary>
    private static Dictionary<string, string?> BehindProxy() => new()
    {
        ["Platform:KnownProxies:0"] = TlsTerminatingProxy.SourceAddress.ToString(),
        ["AllowedHosts"] = $"{TlsTerminatingProxy.HostName};127.0.0.1",
    };

    private static async Task<HttpStatusCode> SendWithHostAsync(HttpClient client, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/SignIn", UriKind.Relative));
        request.Headers.Host = host;
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpResponseMessage> PostSignInAsync(HttpClient client, string signInPage)
    {
        var token = TokenPattern().Match(signInPage);
        Assert.True(token.Success, signInPage);
        return await client.PostAsync(new Uri("/SignIn", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["UserName"] = PortalApp.OperatorName,
            ["Password"] = PortalApp.OperatorPassword,
            ["__RequestVerificationToken"] = token.Groups[1].Value,
        }));
    }

    /// <summary>The lower-cased attributes of the Set-Cookie header that sets <paramref name="name"/>.</summary>
    private static List<string> CookieAttributes(HttpResponseMessage response, string name)
    {
        Assert.True(response.Headers.TryGetValues("Set-Cookie", out var values), $"no Set-Cookie in the answer ({(int)response.StatusCode})");
        var cookie = values.SingleOrDefault(v => v.StartsWith(name + "=", StringComparison.Ordinal));
        Assert.True(cookie is not null, $"no cookie {name} among: {string.Join(" | ", values)}");
        return cookie.Split(';').Skip(1).Select(a => a.Trim().ToLowerInvariant()).ToList();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
