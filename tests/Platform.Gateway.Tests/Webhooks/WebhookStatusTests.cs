using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Webhooks;
using Platform.Gateway.Tests.Support;
using Platform.Gateway.Webhooks;
using Platform.Testing;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// Webhook failures the tenant sees: a real Kestrel receiver answers garbage, 5xx, redirects, huge bodies, stalls or fails
/// the handshake; a real gateway counts each by kind and reports to a real silo over PostgreSQL; the tenant reads the
/// counts, the last failure and the validation state from <c>GET /v1/tenants/{slug}/webhook-status</c>, and another
/// tenant's figures stay its own.
/// </summary>
public sealed class WebhookStatusTests
{
    private const string Secret = "whsec-test-0123456789abcdef";
    private const string Marker = "SECRET-BODY-MARKER";

    [Fact]
    public async Task Failures_EachKindCountedAndVisibleToThatTenantOnly()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var shy = await WebhookReceiver.StartAsync(Secret);
        shy.AllowOrigin = false;
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver.Url, w => w with { TimeoutSeconds = 1, BatchDelayMilliseconds = 0 }));
        await silo.CreateTenantAsync("other", Hooked(receiver.Url));
        await silo.CreateTenantAsync("shy", Hooked(shy.Url));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("other");
        await gateway.WaitForTenantAsync("shy");
        var ws = gateway.WsEndPoint;

        (int, string?, string?) acmeAnswer = (204, null, null);
        var messageAttempts = 0;
        receiver.Answer = async e =>
        {
            if (e.Tenant != "acme")
            {
                return (204, null, null);
            }

            if (e.Type == "messages")
            {
                // The first attempt at a batch fails with a 500 whose body must never be shown; the retry is taken.
                return Interlocked.Increment(ref messageAttempts) == 1 ? (500, Marker, null) : (204, null, null);
            }

            if (acmeAnswer.Item1 == 0)
            {
                // Stalls past the tenant's 1 s timeout.
                await Task.Delay(TimeSpan.FromSeconds(4));
                return (204, null, null);
            }

            return acmeAnswer;
        };

        (int, string?, string?)[] unusable =
        [
            (200, "{not json " + Marker, null),
            (500, Marker, null),
            (302, null, "http://127.0.0.1:1/elsewhere"),
            (200, new string(' ', 70 * 1024) + "{}", null),
        ];
        foreach (var answer in unusable)
        {
            acmeAnswer = answer;
            Assert.Equal(503, (await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/")).Status);
        }

        // A stalled webhook holds only its own tenant's connect: another tenant connects meanwhile.
        acmeAnswer = (0, null, null);
        var stalled = RawHttp.UpgradeAsync(ws, "acme.platform.test", "/");
        Assert.Equal(101, (await RawHttp.UpgradeAsync(ws, "other.platform.test", "/")).Status);
        Assert.Equal(503, (await stalled).Status);

        // A forward override to a forbidden address.
        acmeAnswer = (200, JsonSerializer.Serialize(new { forward = new { host = "169.254.169.254", port = 80 } }), null);
        Assert.Equal(502, (await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/")).Status);

        // A URL that never passes the handshake: nothing but OPTIONS reaches it.
        Assert.Equal(503, (await RawHttp.UpgradeAsync(ws, "shy.platform.test", "/")).Status);
        Assert.Empty(shy.Posts);

        // A good connect, then a message whose first batch attempt gets a 500 and whose retry is taken.
        acmeAnswer = (204, null, null);
        using (var client = await WsClient.ConnectAsync(gateway.WsUri("acme")))
        {
            await WsClient.SendTextAsync(client, "hello");
            await Wait.UntilAsync(() => Volatile.Read(ref messageAttempts) >= 2, "the message batch retried and taken");
        }

        var acme = await WaitForStatusAsync(silo, "acme", s => s.Events.Single(e => e.Event == "messages").Delivered >= 1 && s.Failed >= 7);
        Assert.Equal(WebhookValidationStates.Validated, acme.Validation.State);
        Assert.Equal(1, Count(acme, WebhookFailureKinds.Garbage, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.HttpStatus, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.Redirect, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.BodyTooLarge, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.Timeout, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.ForbiddenOverride, "connect"));
        Assert.Equal(1, Count(acme, WebhookFailureKinds.HttpStatus, "messages"));
        Assert.Equal(7, acme.Failed);
        Assert.Equal(1, acme.Events.Single(e => e.Event == "connect").Delivered);
        Assert.Equal(1, acme.Events.Single(e => e.Event == "messages").Delivered);
        var last = acme.LastFailure!;
        Assert.Equal(("messages", WebhookFailureKinds.HttpStatus, 500), (last.Event, last.Kind, last.Status));

        // Nothing of an answer's body is ever shown.
        using (var raw = await silo.Operator.GetAsync(new Uri("/v1/tenants/acme/webhook-status", UriKind.Relative)))
        {
            Assert.DoesNotContain(Marker, await raw.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain(Secret, await raw.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The other tenants' figures are their own.
        var other = await WaitForStatusAsync(silo, "other", s => s.Delivered >= 1);
        Assert.Equal(0, other.Failed);
        Assert.Empty(other.Failures);
        Assert.Null(other.LastFailure);
        var shyStatus = await WaitForStatusAsync(silo, "shy", s => s.Failed >= 1);
        Assert.Equal(WebhookValidationStates.Failed, shyStatus.Validation.State);
        Assert.Equal(1, Count(shyStatus, WebhookFailureKinds.NotValidated, "connect"));
        Assert.Equal(1, shyStatus.Failed);
        // Answered without the allowed origin: no cause beyond the kind.
        Assert.Null(shyStatus.LastFailure!.Cause);
        Assert.Equal(WebhookFailureKinds.Describe(WebhookFailureKinds.NotValidated, null), shyStatus.LastFailure.Detail);

        // A range without the hours has nothing; a bad range is a problem.
        var old = await silo.Operator.GetFromJsonAsync<WebhookStatusResponse>(
            new Uri("/v1/tenants/acme/webhook-status?from=2026-01-01&to=2026-01-02", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(0, old!.Failed + old.Delivered);
        using var bad = await silo.Operator.GetAsync(new Uri("/v1/tenants/acme/webhook-status?from=yesterday", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        using var missing = await silo.Operator.GetAsync(new Uri("/v1/tenants/nobody/webhook-status", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Handshake_OptionsStallsOrIsRefused_NotValidatedWithTheCauseInTheLastFailure()
    {
        // One receiver holds the OPTIONS request past the tenant's 1 s timeout; the other is stopped, so its port refuses.
        await using var stalling = await WebhookReceiver.StartAsync(Secret);
        stalling.AnswerOptions = async c => await Task.Delay(TimeSpan.FromSeconds(30), c.RequestAborted);
        await using var gone = await WebhookReceiver.StartAsync(Secret);
        await gone.StopAsync();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("stall", Hooked(stalling.Url, w => w with { TimeoutSeconds = 1 }));
        await silo.CreateTenantAsync("gone", Hooked(gone.Url));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("stall");
        await gateway.WaitForTenantAsync("gone");

        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "stall.platform.test", "/")).Status);
        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "gone.platform.test", "/")).Status);

        var stalled = await AssertNotValidatedAsync(silo, "stall", WebhookFailureKinds.Timeout, "no answer within the webhook's timeoutSeconds");
        Assert.Null(stalled.LastFailure!.Status);
        Assert.True(stalling.OptionsRequests >= 1);
        Assert.Empty(stalling.Posts);

        await AssertNotValidatedAsync(silo, "gone", WebhookFailureKinds.ConnectionFailed, "could not be made");

        // Each tenant sees its own cause only.
        using var raw = await silo.Operator.GetAsync(new Uri("/v1/tenants/stall/webhook-status", UriKind.Relative));
        Assert.DoesNotContain("connection_failed", await raw.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await silo.Silo.CheckExchangesAsync());
    }

    [Fact]
    public async Task Url_OnAnAddressTheGatewayForbids_CountedAsEgressRefusedWithNothingSent()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver.Url));
        // The silo's policy allows loopback (so the tests' backends pass), this gateway's does not: the URL's address is
        // checked where the socket would be opened, and refused there.
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?> { ["Platform:Egress:AllowedRanges:0"] = "" });
        await gateway.WaitForTenantAsync("acme");

        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);
        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);

        var status = await WaitForStatusAsync(silo, "acme", s => s.Failed >= 2);
        Assert.Equal(2, Count(status, WebhookFailureKinds.EgressRefused, "connect"));
        Assert.Equal(2, status.Failed);
        Assert.Equal(WebhookFailureKinds.EgressRefused, status.LastFailure!.Kind);
        Assert.Null(status.LastFailure.Status);
        Assert.Equal(WebhookValidationStates.Unknown, status.Validation.State);
        Assert.Equal(0, receiver.OptionsRequests);
        Assert.Empty(receiver.Posts);
    }

    [Fact]
    public async Task SiloAway_FailuresCountedMeanwhileArriveOnceWhenItIsBack()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((500, null, null));
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver.Url));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);
        await WaitForStatusAsync(silo, "acme", s => s.Failed == 1);

        await silo.StopSiloAsync();
        // The gateway serves from its snapshot; the webhook's failures are counted in its memory meanwhile.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);
        }

        await silo.StartSiloAgainAsync();
        await WaitForStatusAsync(silo, "acme", s => s.Failed >= 4);
        // One more failure: the next report adds exactly it, nothing of the reports before counts again.
        var reports = gateway.Services.GetRequiredService<WebhookStatusReporter>().Reports;
        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);
        await Wait.UntilAsync(() => gateway.Services.GetRequiredService<WebhookStatusReporter>().Reports > reports, "the next report");
        var status = await WaitForStatusAsync(silo, "acme", s => s.Failed >= 5);
        Assert.Equal(5, status.Failed);
        Assert.Equal(5, Count(status, WebhookFailureKinds.HttpStatus, "connect"));
    }

    /// <summary>
    /// Waits for the tenant's first failure and checks it is one not_validated connect whose cause is kept in the last
    /// failure only (never counted as a kind of its own), with the validation state failed and the cause described.
    /// </summary>
    private static async Task<WebhookStatusResponse> AssertNotValidatedAsync(SiloFixture silo, string slug, string cause, string causeText)
    {
        var status = await WaitForStatusAsync(silo, slug, s => s.Failed >= 1);
        Assert.Equal(1, Count(status, WebhookFailureKinds.NotValidated, "connect"));
        Assert.Equal(0, Count(status, cause, "connect"));
        Assert.Equal(WebhookValidationStates.Failed, status.Validation.State);
        Assert.Equal((WebhookFailureKinds.NotValidated, cause), (status.LastFailure!.Kind, status.LastFailure.Cause));
        Assert.Contains("validation handshake", status.LastFailure.Detail, StringComparison.Ordinal);
        Assert.Contains(causeText, status.LastFailure.Detail, StringComparison.Ordinal);
        return status;
    }

    private static long Count(WebhookStatusResponse status, string kind, string eventType) =>
        status.Failures.Where(f => f.Kind == kind && f.Event == eventType).Sum(f => f.Count);

    private static async Task<WebhookStatusResponse> WaitForStatusAsync(SiloFixture silo, string slug, Func<WebhookStatusResponse, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var status = await silo.Operator.GetFromJsonAsync<WebhookStatusResponse>(
                new Uri($"/v1/tenants/{slug}/webhook-status", UriKind.Relative), PlatformJson.Options);
            if (condition(status!))
            {
                return status!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{slug}: the webhook status never got there: {JsonSerializer.Serialize(status, PlatformJson.Options)}");
            await Task.Delay(200);
        }
    }

    private static TenantConfig Hooked(string url, Func<WebhookConfig, WebhookConfig>? tune = null)
    {
        var webhook = new WebhookConfig { Url = url, Secret = Secret, TimeoutSeconds = 5 };
        return new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = tune is null ? webhook : tune(webhook) },
        };
    }
}
