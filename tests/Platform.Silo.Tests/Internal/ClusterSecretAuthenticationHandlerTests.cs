using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class ClusterSecretAuthenticationHandlerTests
{
    private static readonly RegisterGatewayRequest Registration = new("gw-auth", "1.0.0", "http://127.0.0.1:1", ["ws:8080"]);

    [Fact]
    public async Task Register_WithoutSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.AnonymousClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("\"code\":\"unauthenticated\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithWrongSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.ClientWith(silo.ClusterSecret + "x").PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task InternalRoutes_WithTenantOrOperatorKey_Answer401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var tenantKey = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);

        var asTenant = await silo.ClientWith(tenantKey).GetAsync(new Uri($"{InternalRoutes.ConfigWatch}?after=0&waitSeconds=0", UriKind.Relative));
        var asOperator = await silo.OperatorClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Unauthorized, asTenant.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, asOperator.StatusCode);
        // The tenant key itself is valid on the public API.
        var own = await silo.ClientWith(tenantKey).GetAsync(new Uri("/v1/tenants/acme/connections", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task PublicApi_WithClusterSecret_Answers401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");

        var gateways = await silo.GatewayClient().GetAsync(new Uri("/v1/gateways", UriKind.Relative));
        var connections = await silo.GatewayClient().GetAsync(new Uri("/v1/tenants/acme/connections", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, gateways.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, connections.StatusCode);
    }

    [Fact]
    public async Task Register_WithClusterSecret_Succeeds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task InternalRoutes_WithClusterSecret_AreNotLookedUpAsApiKeys()
    {
        await using var database = await TestDatabase.CreateAsync();
        var logs = new CapturingLoggerProvider();
        await using var silo = new SiloApp(database, services: s => s.AddSingleton<ILoggerProvider>(logs));

        var register = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Register, Registration, PlatformJson.Options);
        var watch = await silo.GatewayClient().GetAsync(new Uri($"{InternalRoutes.ConfigWatch}?after=0&waitSeconds=0", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, register.StatusCode);
        Assert.Equal(HttpStatusCode.OK, watch.StatusCode);
        Assert.DoesNotContain(logs.Categories, c => c.EndsWith(".ApiKeyAuthenticationHandler", StringComparison.Ordinal));

        // The same secret on the public API is an unknown API key, and is logged as one.
        var gateways = await silo.GatewayClient().GetAsync(new Uri("/v1/gateways", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, gateways.StatusCode);
        Assert.Contains(logs.Categories, c => c.EndsWith(".ApiKeyAuthenticationHandler", StringComparison.Ordinal));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _categories = new();

        public IEnumerable<string> Categories => _categories;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _categories);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    sink.Enqueue(category);
                }
            }
        }
    }
}
