using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

/// <summary>
/// The setup the connection-event and usage tests share: a silo on a database of its own, tenant rows by slug, gateways
/// registered by node id, batches sent as one of them, and a tenant's connections read back through the REST API.
/// </summary>
internal sealed class ConnectionEventsSetup : IAsyncDisposable
{
    private readonly TestDatabase _database;
    private readonly Dictionary<string, Guid> _tenants = new(StringComparer.Ordinal);

    private ConnectionEventsSetup(TestDatabase database)
    {
        _database = database;
        Silo = new SiloApp(database);
    }

    public SiloApp Silo { get; }

    /// <summary>The id of the tenant <paramref name="slug"/>.</summary>
    public Guid this[string slug] => _tenants[slug];

    /// <summary>A silo with a tenant row for each of <paramref name="tenants"/> and each of <paramref name="gateways"/> registered.</summary>
    public static async Task<ConnectionEventsSetup> StartAsync(string[] tenants, params string[] gateways)
    {
        var setup = new ConnectionEventsSetup(await TestDatabase.CreateAsync());
        try
        {
            foreach (var slug in tenants)
            {
                setup._tenants[slug] = await InternalTestFixture.InsertTenantRowsAsync(setup.Silo, slug);
            }

            foreach (var gateway in gateways)
            {
                await setup.Silo.RegisterGatewayAsync(gateway);
            }

            return setup;
        }
        catch
        {
            await setup.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends a batch as <paramref name="gateway"/>; true when the silo took it.</summary>
    public Task<bool> SendAsync(string gateway, ConnectionEventBatch batch) => Silo.SendEventsAsync(gateway, batch);

    /// <summary>The tenant's connections as an operator lists them (<paramref name="query"/> without its <c>?</c>).</summary>
    public async Task<Page<ConnectionResponse>> ConnectionsAsync(string slug, string query = "") =>
        (await Silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>(
            $"/v1/tenants/{slug}/connections{(query.Length > 0 ? "?" + query : "")}", PlatformJson.Options))!;

    public async ValueTask DisposeAsync()
    {
        await Silo.DisposeAsync();
        await _database.DisposeAsync();
    }
}
