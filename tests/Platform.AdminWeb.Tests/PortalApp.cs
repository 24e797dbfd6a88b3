using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Platform.Contracts;
using Platform.Contracts.Operators;
using Platform.Testing;

namespace Platform.AdminWeb.Tests;

/// <summary>The portal in front of a real silo (on a real loopback port) over a private database.</summary>
public sealed partial class PortalApp : WebApplicationFactory<Program>
{
    public const string OperatorName = "alice";
    public const string OperatorPassword = "a long enough password";

    private readonly TimeProvider? _clock;
    private readonly IDictionary<string, string?> _settings;

    private PortalApp(TestDatabase database, SiloApp silo, TimeProvider? clock, bool useKestrel, IDictionary<string, string?>? settings)
    {
        Database = database;
        Silo = silo;
        _clock = clock;
        _settings = settings ?? new Dictionary<string, string?>();
        if (useKestrel)
        {
            UseKestrel(0);
        }
    }

    public TestDatabase Database { get; }

    public SiloApp Silo { get; }

    public Uri BaseAddress
    {
        get
        {
            StartServer();
            return ClientOptions.BaseAddress;
        }
    }

    /// <summary>
    /// Starts database, silo and portal, and creates the operator account <see cref="OperatorName"/>.
    /// <paramref name="portalSettings"/> are the portal's own settings, applied after the defaults of this class.
    /// </summary>
    public static async Task<PortalApp> StartAsync(
        TimeProvider? portalClock = null,
        bool useKestrel = false,
        IDictionary<string, string?>? siloSettings = null,
        IDictionary<string, string?>? portalSettings = null)
    {
        var database = await TestDatabase.CreateAsync();
        var silo = new SiloApp(database, siloSettings, useKestrel: true);
        var app = new PortalApp(database, silo, portalClock, useKestrel, portalSettings);
        using var operatorClient = app.SiloClient(silo.OperatorKey);
        var created = await operatorClient.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest(OperatorName, OperatorPassword), PlatformJson.Options);
        created.EnsureSuccessStatusCode();
        return app;
    }

    /// <summary>A client of the silo's real port.</summary>
    public HttpClient SiloClient(string bearer) => Silo.ClientWith(bearer);

    public HttpClient Browser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>A client with a signed-in session.</summary>
    public async Task<HttpClient> SignedInAsync()
    {
        var client = Browser();
        var response = await PostFormAsync(client, "/SignIn", new() { ["UserName"] = OperatorName, ["Password"] = OperatorPassword });
        if (response.StatusCode != System.Net.HttpStatusCode.Redirect)
        {
            throw new InvalidOperationException($"Sign-in failed: {(int)response.StatusCode}");
        }

        return client;
    }

    /// <summary>GETs the page, takes its anti-forgery token and POSTs the form as a browser would.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, Dictionary<string, string> fields, string? tokenFrom = null)
    {
        var page = await client.GetStringAsync(new Uri(tokenFrom ?? path, UriKind.Relative));
        var token = TokenPattern().Match(page);
        if (!token.Success)
        {
            throw new InvalidOperationException($"No anti-forgery token on {tokenFrom ?? path}.");
        }

        fields["__RequestVerificationToken"] = token.Groups[1].Value;
        return await client.PostAsync(new Uri(path, UriKind.Relative), new FormUrlEncodedContent(fields));
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseSetting("Platform:SiloUrl", Silo.BaseAddress.ToString());
        builder.UseSetting("Platform:OperatorKey", Silo.OperatorKey);
        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.UseSetting("Platform:AdminUrls", "http://127.0.0.1:0");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(services =>
        {
            if (_clock is not null)
            {
                services.RemoveAll<TimeProvider>();
                services.AddSingleton(_clock);
                services.PostConfigure<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme, o => o.TimeProvider = _clock);
            }
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Silo.DisposeAsync();
        await Database.DisposeAsync();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
