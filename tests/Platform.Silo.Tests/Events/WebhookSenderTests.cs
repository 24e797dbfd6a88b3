using System.Net;
using System.Net.Sockets;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Events;
using Platform.Silo.Security;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

public sealed class WebhookSenderTests
{
    [Fact]
    public async Task Send_Events_ArriveInOrderSignedAfterTheValidationHandshake()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        await silo.RegisterGatewayAsync("gw-1");

        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1, 2);
        await EventTestSupport.CloseAsync(silo, "gw-1", 1);

        await EventTestSupport.UntilAsync(() => receiver.Posts.Count >= 3, "three events delivered");
        var requests = receiver.Requests.ToList();
        Assert.Equal("OPTIONS", requests[0].Method);
        Assert.Equal("platform.test", requests[0].Header("WebHook-Request-Origin"));
        Assert.Equal(1, requests.Count(r => r.Method == "OPTIONS"));
        var posts = receiver.Posts;
        Assert.Equal([1L, 2, 3], posts.Select(p => p.Json.GetProperty("sequence").GetInt64()));
        Assert.Equal(["connected", "connected", "disconnected"], posts.Select(p => p.Json.GetProperty("type").GetString()));
        Assert.Equal(["gw-1.1", "gw-1.2", "gw-1.1"], posts.Select(p => p.Json.GetProperty("connectionId").GetString()));
        Assert.All(posts, p =>
        {
            Assert.True(p.SignedWith(EventTestSupport.Secret, TimeSpan.FromMinutes(5)), "signature verifies with the secret");
            Assert.False(p.SignedWith("some-other-secret-0123456789", TimeSpan.FromMinutes(5)), "signature does not verify with another secret");
            Assert.Equal(p.Json.GetProperty("id").GetString(), p.Header("Platform-Event-Id"));
            Assert.Equal(p.Json.GetProperty("type").GetString(), p.Header("Platform-Event-Type"));
            Assert.Equal(p.Json.GetProperty("sequence").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), p.Header("Platform-Event-Sequence"));
            Assert.Equal("acme", p.Header("Platform-Tenant"));
            Assert.StartsWith("application/json", p.Header("Content-Type"), StringComparison.Ordinal);
            Assert.Equal("/hook", p.Path);
        });
        Assert.Equal(1000, posts[2].Json.GetProperty("closeCode").GetInt32());
        Assert.Equal("bye", posts[2].Json.GetProperty("closeReason").GetString());

        // A tampered body no longer verifies.
        var tampered = posts[0] with { Body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(posts[0].Body).Replace("gw-1.1", "gw-1.9", StringComparison.Ordinal)) };
        Assert.False(tampered.SignedWith(EventTestSupport.Secret, TimeSpan.FromMinutes(5)));

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items.All(i => i.Delivery.State == EventDeliveryStates.Delivered), "all marked delivered");
        var page = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        Assert.All(page.Items, i => Assert.Equal((1, 204), (i.Delivery.Attempts, i.Delivery.LastStatus)));
        Assert.All(page.Items, i => Assert.NotNull(i.Delivery.DeliveredAt));
    }

    [Fact]
    public async Task Send_ReceiverDownThenBack_DeliversEverythingOnceInOrder()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.UntilAsync(() => receiver.Posts.Count >= 1, "first event delivered");

        await receiver.StopAsync();
        for (var n = 2; n <= 6; n++)
        {
            await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, n);
            await EventTestSupport.CloseAsync(silo, "gw-1", n - 1);
        }

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items
            .Any(i => i.Delivery.Attempts >= 2 && i.Delivery.LastError == "connect_failed"), "failed attempts while the receiver is down");
        var down = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        Assert.Equal(EventDeliveryStates.Pending, down.Items[1].Delivery.State);
        Assert.NotNull(down.Items[1].Delivery.NextAttemptAt);

        await receiver.StartAgainAsync();
        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items
            .All(i => i.Delivery.State == EventDeliveryStates.Delivered), "everything delivered after the receiver came back");

        var posts = receiver.Posts;
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), posts.Select(p => p.Json.GetProperty("sequence").GetInt64()));
        foreach (var connection in posts.GroupBy(p => p.Json.GetProperty("connectionId").GetString()))
        {
            var types = connection.Select(p => p.Json.GetProperty("type").GetString()).ToList();
            Assert.Equal("connected", types[0]);
            Assert.True(types.Count <= 2 && types.Skip(1).All(t => t == "disconnected"));
        }
    }

    public static TheoryData<string, string, int?> BadAnswers => new()
    {
        { "500", "http_status", 500 },
        { "slow", "timeout", null },
        { "redirect", "redirect", 307 },
        { "huge", "response_too_large", 200 },
        { "huge-chunked", "response_too_large", 200 },
    };

    [Theory]
    [MemberData(nameof(BadAnswers))]
    public async Task Send_BadAnswer_FailsWithItsReasonAndIsRetriedUntilDelivered(string answer, string reason, int? status)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var healthy = false;
        receiver.AnswerRaw = async context =>
        {
            if (Volatile.Read(ref healthy))
            {
                context.Response.StatusCode = 204;
                return;
            }

            switch (answer)
            {
                case "500":
                    context.Response.StatusCode = 500;
                    break;
                case "slow":
                    // Answers well after the tenant's 1 s timeout.
                    await Task.Delay(TimeSpan.FromSeconds(4), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                    context.Response.StatusCode = 204;
                    break;
                case "redirect":
                    context.Response.StatusCode = 307;
                    context.Response.Headers.Location = "http://127.0.0.1:9/elsewhere";
                    break;
                case "huge":
                    context.Response.StatusCode = 200;
                    context.Response.ContentLength = 1024 * 1024;
                    await context.Response.Body.WriteAsync(new byte[1024 * 1024], context.RequestAborted).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
                    break;
                default:
                    context.Response.StatusCode = 200;
                    for (var i = 0; i < 32 && !context.RequestAborted.IsCancellationRequested; i++)
                    {
                        await context.Response.Body.WriteAsync(new byte[8192], context.RequestAborted).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
                    }

                    break;
            }
        };
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url, timeoutSeconds: 1);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 2);

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0].Delivery.Attempts >= 2,
            "two failed attempts");
        var failing = (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items;
        Assert.Equal(EventDeliveryStates.Pending, failing[0].Delivery.State);
        Assert.Equal(reason, failing[0].Delivery.LastError);
        Assert.Equal(status, failing[0].Delivery.LastStatus);
        // Head of line: the second event waits for the first.
        Assert.Equal(0, failing[1].Delivery.Attempts);

        Volatile.Write(ref healthy, true);
        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items
            .All(i => i.Delivery.State == EventDeliveryStates.Delivered), "delivered once the receiver answers well");
        var sequences = receiver.Posts.Select(p => p.Json.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(2, sequences[^1]);
        Assert.True(sequences.Count(s => s == 1) >= 2);
        Assert.Equal(1, sequences.Count(s => s == 2));
    }

    [Fact]
    public async Task Send_ReceiverAnswersGarbage_FailsAsBadResponseAndIsRetried()
    {
        await using var database = await TestDatabase.CreateAsync();
        var port = FreePorts.Tcp();
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var accepted = 0;
        var server = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref accepted);
                var stream = client.GetStream();
                var buffer = new byte[65536];
                _ = await stream.ReadAsync(buffer, stop.Token);
                await stream.WriteAsync("\u0016\u0003\u0001garbage, not HTTP at all\r\n\r\n"u8.ToArray(), stop.Token);
            }
        });
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", $"http://127.0.0.1:{port}/hook");
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0].Delivery.Attempts >= 2,
            "two failed attempts");
        var item = (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0];
        Assert.Equal((EventDeliveryStates.Pending, "bad_response"), (item.Delivery.State, item.Delivery.LastError));
        Assert.True(Volatile.Read(ref accepted) >= 2);
        await stop.CancelAsync();
        listener.Stop();
        await Assert.ThrowsAnyAsync<Exception>(() => server);
    }

    [Fact]
    public async Task Send_ValidationHandshakeRefused_SendsNoEvent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var refusals = new Func<HttpContext, Task>[]
        {
            c => { c.Response.StatusCode = 200; return Task.CompletedTask; },
            c => { c.Response.StatusCode = 200; c.Response.Headers["WebHook-Allowed-Origin"] = "evil.example"; return Task.CompletedTask; },
            c => { c.Response.StatusCode = 403; c.Response.Headers["WebHook-Allowed-Origin"] = "*"; return Task.CompletedTask; },
        };
        var options = 0;
        receiver.AnswerOptions = c => refusals[Interlocked.Increment(ref options) % refusals.Length](c);
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);

        await EventTestSupport.UntilAsync(() => receiver.Requests.Count(r => r.Method == "OPTIONS") >= 4, "handshake tried repeatedly");
        Assert.Empty(receiver.Posts);
        var item = (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0];
        Assert.Equal((EventDeliveryStates.Pending, "validation_failed"), (item.Delivery.State, item.Delivery.LastError));

        // Once the receiver agrees, events flow; the handshake is not repeated for the same URL.
        receiver.AnswerOptions = c => { c.Response.StatusCode = 204; c.Response.Headers["WebHook-Allowed-Origin"] = "*"; return Task.CompletedTask; };
        await EventTestSupport.UntilAsync(() => receiver.Posts.Count >= 1, "delivered after the handshake passes");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 2);
        await EventTestSupport.UntilAsync(() => receiver.Posts.Count >= 2, "second event delivered");
        var afterFirstPost = receiver.Requests.SkipWhile(r => r.Method != "POST").ToList();
        Assert.DoesNotContain(afterFirstPost, r => r.Method == "OPTIONS");
    }

    [Fact]
    public async Task Send_NoSecret_SendsNothingAndSaysWhy()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url, secret: null);
        var bareId = await EventTestSupport.TenantAsync(silo, "bare", url: null);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.OpenAsync(silo, "gw-1", bareId, 2);

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0].Delivery.LastError == "no_secret", "no_secret reported");
        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "bare")).Items[0].Delivery.LastError == "no_webhook", "no_webhook reported");
        var item = (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[0];
        Assert.Equal((EventDeliveryStates.Pending, 0), (item.Delivery.State, item.Delivery.Attempts));
        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task Send_LoopbackNotAllowedByTheOperator_RefusedAtConnectWithNothingSent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database, allowLoopback: false);
        // Both spellings reach the receiver if connected: a literal address and a loopback name.
        var literalId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        var nameId = await EventTestSupport.TenantAsync(silo, "named", $"http://localhost:{receiver.Port}/hook");
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", literalId, 1);
        await EventTestSupport.OpenAsync(silo, "gw-1", nameId, 2);

        foreach (var slug in new[] { "acme", "named" })
        {
            await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), slug)).Items[0].Delivery.Attempts >= 2, $"{slug}: refused twice");
            var item = (await EventTestSupport.EventsAsync(silo.OperatorClient(), slug)).Items[0];
            Assert.Equal((EventDeliveryStates.Pending, "egress_refused"), (item.Delivery.State, item.Delivery.LastError));
        }

        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task Send_MaxAttemptsReached_MarksFailedAndMovesOn()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.AnswerRaw = context =>
        {
            context.Response.StatusCode = context.Request.Headers["Platform-Event-Sequence"] == "1" ? 503 : 204;
            return Task.CompletedTask;
        };
        await using var silo = EventTestSupport.Silo(database, extra: new Dictionary<string, string?> { ["Platform:Events:MaxAttempts"] = "3" });
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 2);

        await EventTestSupport.UntilAsync(async () => (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items[1].Delivery.State == EventDeliveryStates.Delivered, "second delivered");
        var items = (await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme")).Items;
        Assert.Equal((EventDeliveryStates.Failed, 3, 503, "http_status"), (items[0].Delivery.State, items[0].Delivery.Attempts, items[0].Delivery.LastStatus, items[0].Delivery.LastError));
        Assert.Null(items[0].Delivery.NextAttemptAt);
        Assert.Equal(3, receiver.Posts.Count(p => p.Header("Platform-Event-Sequence") == "1"));
    }

    [Fact]
    public async Task Send_HungReceiver_DoesNotHoldUpOtherTenants()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var hung = await WebhookReceiver.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = 0;
        hung.AnswerRaw = async context =>
        {
            Interlocked.Increment(ref inFlight);
            try
            {
                await release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The silo gave up on the request (its timeout).
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        };
        await using var healthy = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var hungId = await EventTestSupport.TenantAsync(silo, "hung", hung.Url, timeoutSeconds: 30);
        var healthyId = await EventTestSupport.TenantAsync(silo, "fine", healthy.Url);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", hungId, 1);
        await EventTestSupport.UntilAsync(() => Volatile.Read(ref inFlight) == 1, "the hung tenant's request is in flight");

        await EventTestSupport.OpenAsync(silo, "gw-1", healthyId, 2, 3);
        await EventTestSupport.UntilAsync(() => healthy.Posts.Count >= 2, "the other tenant's events delivered");

        Assert.Equal(1, Volatile.Read(ref inFlight));
        release.SetResult();
    }

    [Fact]
    public async Task Send_SecretRotated_SignsWithTheNewAndThePreviousSecret()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", receiver.Url);
        const string next = "whsec-rotated-abcdef0123456789";
        var encrypted = silo.Services.GetRequiredService<SecretProtector>().Protect(next, SecretPurposes.WebhookSecret, tenantId);
        await InternalTestFixture.ExecuteAsync(silo,
            """
            INSERT INTO tenant_configs (tenant_id, revision, config, webhook_secret_enc, actor, created_at)
            SELECT tenant_id, revision + 1000, config, @encrypted, 'test', now() FROM tenant_configs WHERE tenant_id = @tenantId;
            UPDATE tenants SET config_revision = config_revision + 1000 WHERE id = @tenantId;
            """,
            new { tenantId, encrypted });
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);

        await EventTestSupport.UntilAsync(() => receiver.Posts.Count >= 1, "delivered");
        var post = receiver.Posts[0];
        Assert.Equal(2, post.Header("Platform-Signature").Split(',').Count(p => p.StartsWith("v1=", StringComparison.Ordinal)));
        Assert.True(post.SignedWith(next, TimeSpan.FromMinutes(5)));
        Assert.True(post.SignedWith(EventTestSupport.Secret, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task Send_UrlChangedWhileTheStreamRuns_LaterEventsGoToTheNewUrlAfterItsHandshake()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await WebhookReceiver.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = 0;
        first.AnswerRaw = async context =>
        {
            // The first event is held until the URL has changed: the stream has read the next ones meanwhile.
            Interlocked.Increment(ref held);
            await release.Task.WaitAsync(context.RequestAborted);
            context.Response.StatusCode = 204;
        };
        await using var second = await WebhookReceiver.StartAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", first.Url, timeoutSeconds: 30);
        await silo.RegisterGatewayAsync("gw-1");
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1, 2, 3);
        await EventTestSupport.UntilAsync(() => Volatile.Read(ref held) == 1, "the first event in flight");

        await InternalTestFixture.ExecuteAsync(silo,
            """
            INSERT INTO tenant_configs (tenant_id, revision, config, webhook_secret_enc, actor, created_at)
            SELECT tenant_id, revision + 1, jsonb_set(config, '{delivery,webhook,url}', to_jsonb(@url::text)), webhook_secret_enc, 'test', now()
            FROM tenant_configs WHERE tenant_id = @tenantId ORDER BY revision DESC LIMIT 1;
            UPDATE tenants SET config_revision = config_revision + 1 WHERE id = @tenantId;
            """,
            new { tenantId, url = second.Url });
        release.SetResult();

        await EventTestSupport.UntilAsync(() => second.Posts.Count >= 2, "the later events at the new URL");
        Assert.Equal([1L], first.Posts.Select(p => p.Json.GetProperty("sequence").GetInt64()));
        Assert.Equal([2L, 3], second.Posts.Select(p => p.Json.GetProperty("sequence").GetInt64()));
        Assert.Equal("OPTIONS", second.Requests.First().Method);
        Assert.All(second.Posts, p => Assert.True(p.SignedWith(EventTestSupport.Secret, TimeSpan.FromMinutes(5))));
    }
}
