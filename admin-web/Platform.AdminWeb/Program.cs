using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Security;
using Platform.AdminWeb.Silo;
using Platform.AdminWeb.Telemetry;
using Platform.Contracts.Http;

namespace Platform.AdminWeb;

/// <summary>The operators' portal: Razor Pages over the silo REST API.</summary>
public sealed class Program
{
    private Program()
    {
    }

    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // Secrets arrive as files, one per key (Platform__OperatorKey), not as environment variables, which
        // /proc/<pid>/environ shows. Added last, so a file wins over appsettings and the environment.
        if (builder.Configuration["PLATFORM_SECRETS_DIR"] is { Length: > 0 } secretsDirectory)
        {
            builder.Configuration.AddKeyPerFile(Path.GetFullPath(secretsDirectory), optional: false);
        }

        var options = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        options.Validate();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddTransient<OperatorNameHandler>();
        builder.Services.AddHttpClient<SiloClient>(c =>
        {
            c.BaseAddress = new Uri(options.SiloUrl.TrimEnd('/') + "/");
            c.Timeout = TimeSpan.FromSeconds(15);
            c.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.OperatorKey);
        }).AddHttpMessageHandler<OperatorNameHandler>()
            .AddHttpMessageHandler(static () => new TransportFailureHandler());
        builder.Services.AddHttpClient(TargetProbe.WebhookClientName, c => c.Timeout = TimeSpan.FromSeconds(5))
            .ConfigurePrimaryHttpMessageHandler(static sp => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                ConnectCallback = sp.GetRequiredService<TargetProbe>().ConnectHttpAsync,
            })
            .AddHttpMessageHandler(static () => new TransportFailureHandler());
        builder.Services.AddSingleton<TargetProbe>();
        builder.Services.AddPortalTelemetry();

        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.LoginPath = "/SignIn";
                o.LogoutPath = "/SignOut";
                o.AccessDeniedPath = "/SignIn";
                o.ExpireTimeSpan = TimeSpan.FromHours(options.SessionHours);
                o.SlidingExpiration = true;
                o.Cookie.Name = "platform.portal";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.Events.OnRedirectToLogin = SignInRedirect.OnRedirectToLogin;
            });
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "platform.af";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.HeaderName = "X-CSRF-TOKEN";
        });
        builder.Services.Configure<CookieTempDataProviderOptions>(o => o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest);
        builder.Services.Configure<ForwardedHeadersOptions>(o => ForwardedHeadersSetup.Configure(o, options));
        builder.Services.AddRazorPages(o =>
        {
            o.Conventions.AllowAnonymousToPage("/SignIn");
            o.Conventions.AllowAnonymousToPage("/Error");
        });

        var app = builder.Build();
        // First, so that everything after it (cookies, HSTS, redirects) sees the scheme the client used.
        app.UseForwardedHeaders();
        app.UseMiddleware<SecurityHeadersMiddleware>();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error");
        }

        // Sent only on HTTPS requests (direct, or from a known proxy), never for localhost names.
        app.UseHsts();

        app.UseStatusCodePagesWithReExecute("/Error", "?status={0}");
        app.UseStaticFiles();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapRazorPages();
        app.Run();
    }
}
