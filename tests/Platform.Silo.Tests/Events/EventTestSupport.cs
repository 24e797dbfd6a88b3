using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Events;
using Platform.Contracts.Internal;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

/// <summary>Silos, tenants and waits of the lifecycle event tests.</summary>
internal static class EventTestSupport
{
    public const string Secret = "whsec-test-0123456789abcdef";

    /// <summary>Generous: the machine running the tests may be heavily loaded.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A silo whose sender polls often and retries quickly, whose gateways are not reaped while a test runs, and whose
    /// egress policy lets webhooks reach loopback (where the tests' receivers listen) unless <paramref name="allowLoopback"/> is false.
    /// </summary>
    public static SiloApp Silo(TestDatabase database, bool allowLoopback = true, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Platform:HeartbeatTimeoutSeconds"] = "3600",
            ["Platform:Events:PollIntervalMilliseconds"] = "100",
            ["Platform:Events:RetryBaseMilliseconds"] = "200",
            ["Platform:Events:RetryMaxSeconds"] = "1",
            ["Platform:Events:MaxAttempts"] = "100",
            ["Platform:Events:RecheckSeconds"] = "1",
        };
        if (allowLoopback)
        {
            settings["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8";
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return new SiloApp(database, settings);
    }

    public static Task<Guid> TenantAsync(SiloApp silo, string slug, string? url, string? secret = Secret, int timeoutSeconds = 2) =>
        InternalTestFixture.InsertTenantRowsAsync(silo, slug, config: new TenantConfig
        {
            Delivery = url is null ? new DeliveryConfig() : new DeliveryConfig { Webhook = new WebhookConfig { Url = url, TimeoutSeconds = timeoutSeconds } },
        }, webhookSecret: secret);

    /// <summary>Opens connections <c>{gateway}.{n}</c> for each n, one batch.</summary>
    public static async Task OpenAsync(SiloApp silo, string gateway, Guid tenantId, params int[] numbers)
    {
        var now = DateTimeOffset.UtcNow;
        Assert.True(await silo.SendEventsAsync(gateway, new ConnectionEventBatch(
            numbers.Select(n => InternalTestFixture.Opened($"{gateway}.{n:x}", tenantId).Ws(now)).ToList(), [], [])));
    }

    /// <summary>Closes connections <c>{gateway}.{n}</c> with code 1000, one batch.</summary>
    public static async Task CloseAsync(SiloApp silo, string gateway, params int[] numbers)
    {
        var now = DateTimeOffset.UtcNow;
        Assert.True(await silo.SendEventsAsync(gateway, new ConnectionEventBatch([], [],
            numbers.Select(n => new ConnectionClosed(new ConnectionCounters($"{gateway}.{n:x}", 1, 2, 3, 4, now), now, 1000, "bye")).ToList())));
    }

    public static async Task<EventPage> EventsAsync(HttpClient client, string slug, long after = 0, int limit = 1000)
    {
        var page = await client.GetFromJsonAsync<EventPage>($"/v1/tenants/{slug}/events?after={after}&limit={limit}", PlatformJson.Options);
        return page!;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <see cref="Patience"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(100);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);
}
