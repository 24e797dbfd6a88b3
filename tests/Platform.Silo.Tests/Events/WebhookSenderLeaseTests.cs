using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Events;
using Platform.Silo.Events;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

public sealed class WebhookSenderLeaseTests
{
    [Fact]
    public async Task PassAsync_TwoSendersAtOnce_NeverSendOneTenantsStreamConcurrentlyAndDeliverEachEventOnceInOrder()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var inFlight = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var overlaps = 0;
        receiver.AnswerRaw = async context =>
        {
            var tenant = context.Request.Headers["Platform-Tenant"].ToString();
            if (inFlight.AddOrUpdate(tenant, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            // Long enough for the other sender to try the same stream while this request is open.
            await Task.Delay(30, context.RequestAborted);
            inFlight.AddOrUpdate(tenant, 0, (_, n) => n - 1);
            context.Response.StatusCode = 204;
        };
        // The hosted sender is off: the test drives two senders of its own, as two silos would run them.
        await using var silo = EventTestSupport.Silo(database, extra: new Dictionary<string, string?> { ["Platform:Events:SenderEnabled"] = "false" });
        var tenants = new List<(string Slug, Guid Id)>();
        for (var t = 0; t < 3; t++)
        {
            var slug = $"tenant-{t}";
            tenants.Add((slug, await EventTestSupport.TenantAsync(silo, slug, receiver.Url)));
        }

        await silo.RegisterGatewayAsync("gw-1");
        var n = 0;
        foreach (var (_, id) in tenants)
        {
            for (var i = 0; i < 5; i++)
            {
                await EventTestSupport.OpenAsync(silo, "gw-1", id, ++n);
            }
        }

        var senders = new[]
        {
            ActivatorUtilities.CreateInstance<WebhookSender>(silo.Services),
            ActivatorUtilities.CreateInstance<WebhookSender>(silo.Services),
        };
        using var stop = new CancellationTokenSource();
        var passes = senders.Select(sender => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await sender.PassAsync(stop.Token);
                await Task.Delay(5);
            }
        })).ToList();

        try
        {
            await EventTestSupport.UntilAsync(async () =>
            {
                foreach (var (slug, _) in tenants)
                {
                    if ((await EventTestSupport.EventsAsync(silo.OperatorClient(), slug)).Items.Any(i => i.Delivery.State != EventDeliveryStates.Delivered))
                    {
                        return false;
                    }
                }

                return true;
            }, "every tenant's events delivered");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(passes.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
        }

        Assert.Equal(0, Volatile.Read(ref overlaps));
        foreach (var (slug, _) in tenants)
        {
            var sequences = receiver.Posts.Where(p => p.Header("Platform-Tenant") == slug).Select(p => p.Json.GetProperty("sequence").GetInt64());
            Assert.Equal([1L, 2, 3, 4, 5], sequences);
        }

        foreach (var sender in senders)
        {
            sender.Dispose();
        }
    }
}
