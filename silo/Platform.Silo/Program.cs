using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Json;
using Npgsql;
using Platform.Contracts;
using Platform.Silo;
using Platform.Silo.ApiKeys;
using Platform.Silo.Audit;
using Platform.Silo.Certificates;
using Platform.Silo.Cluster;
using Platform.Silo.Connections;
using Platform.Silo.Data;
using Platform.Silo.Events;
using Platform.Silo.Gateways;
using Platform.Silo.HostNames;
using Platform.Silo.Internal;
using Platform.Silo.OpenApi;
using Platform.Silo.Operators;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Psk;
using Platform.Silo.RawKeys;
using Platform.Silo.Security;
using Platform.Silo.Stats;
using Platform.Silo.Telemetry;
using Platform.Silo.Tenants;
using Platform.Silo.Usage;
using Platform.Silo.Webhooks;

var builder = WebApplication.CreateBuilder(args);
// Secrets arrive as files, one per key (Platform__MasterKey), not as environment variables, which
// /proc/<pid>/environ shows. Added last, so a file wins over appsettings and the environment.
if (builder.Configuration["PLATFORM_SECRETS_DIR"] is { Length: > 0 } secretsDirectory)
{
    builder.Configuration.AddKeyPerFile(Path.GetFullPath(secretsDirectory), optional: false);
}

var platform = builder.Configuration.GetSection(PlatformOptions.Section).Get<PlatformOptions>() ?? new PlatformOptions();
platform.Validate();
builder.Services.AddSingleton(platform);
// The platform's clock is its own service, so a test may drive it (a keyed TimeProvider "platform") while Orleans keeps real time.
builder.Services.AddSingleton(sp => new PlatformClock(sp.GetKeyedService<TimeProvider>(PlatformClock.ServiceKey) ?? TimeProvider.System));
builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(platform.ConnectionString));
builder.Services.AddSingleton<MigrationRunner>();
builder.Services.AddHostedService<MigrationHostedService>();
builder.Services.AddSingleton<SecretProtector>();
builder.AddPlatformCluster(platform);

builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = platform.MaxRequestBodyBytes);
builder.Services.Configure<JsonOptions>(o => PlatformJson.Configure(o.SerializerOptions));
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddProblemDetails(static o => o.CustomizeProblemDetails = StatusProblems.Customize);
builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
builder.Services.AddPlatformOpenApi();

builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy(Claims.OperatorPolicy, p => p.RequireClaim(Claims.Role, Claims.OperatorRole))
    .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());

builder.Services.AddSiloInternals();
builder.Services.AddSiloTelemetry();
// After the migrations' hosted service: its start-up reconciliation reads the migrated tables.
builder.Services.AddHostNames(builder.Configuration);
builder.Services.AddLifecycleEvents(builder.Configuration);

var app = builder.Build();

app.UseExceptionHandler();
// An error status that nothing wrote a body for (no route, wrong method or media type) becomes a problem with a code.
app.UseStatusCodePages(StatusProblems.WriteAsync);
app.UseAuthentication();
app.UseAuthorization();

app.MapPlatformOpenApi();
app.MapGet("/healthz", () => TypedResults.Ok(new { status = "ok" })).AllowAnonymous().ExcludeFromDescription();

// A suspended tenant's keys may read but not write, on every endpoint of the group.
var v1 = app.MapGroup("/v1").AddEndpointFilter<SuspendedTenantWriteFilter>();
v1.MapTenantsApi();
v1.MapConfigApi();
v1.MapPlansApi();
v1.MapPortsApi();
v1.MapCertificatesApi();
v1.MapHostNamesApi();
v1.MapApiKeysApi();
v1.MapPskApi();
v1.MapRawPublicKeysApi();
v1.MapConnectionsApi();
v1.MapGatewaysApi();
v1.MapSilosApi();
v1.MapAuditApi();
v1.MapOperatorsApi();
v1.MapRefusalsApi();
v1.MapStatsApi();
v1.MapEventsApi();
v1.MapUsageApi();
v1.MapWebhookStatusApi();

app.Run();

/// <summary>Entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
