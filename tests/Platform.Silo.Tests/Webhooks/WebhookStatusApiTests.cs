using System.Net;
using System.Net.Http.Json;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Webhooks;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Webhooks;

/// <summary>
/// Gateway webhook reports stored in PostgreSQL and read back by <c>GET /v1/tenants/{slug}/webhook-status</c>: a report
/// sent again counts once, a tenant key reads only its own tenant, an invalid report is refused naming the field.
/// </summary>
public sealed class WebhookStatusApiTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 30, 20, TimeSpan.Zero);
    private static readonly DateTimeOffset Hour = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private const string Url = "https://hooks.acme.example/platform";

    [Fact]
    public async Task Report_SentTwice_CountsOnceAndOnlyItsTenantSeesIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: Hooked(Url));
        var globex = await InternalTestFixture.InsertTenantRowsAsync(silo, "globex", config: Hooked("https://hooks.globex.example/"));
        var report = new WebhookReport(Guid.NewGuid(),
            [
                new(Hour, acme, WebhookEventTypes.Connect, WebhookOutcomes.Delivered, 10),
                new(Hour, acme, WebhookEventTypes.Connect, WebhookFailureKinds.Timeout, 3),
                new(Hour, acme, WebhookEventTypes.Messages, WebhookFailureKinds.HttpStatus, 2),
                new(Hour.AddHours(-30), acme, WebhookEventTypes.Connect, WebhookFailureKinds.Garbage, 4),
                new(Hour, globex, WebhookEventTypes.Messages, WebhookOutcomes.Delivered, 5),
                new(Hour, Guid.NewGuid(), WebhookEventTypes.Connect, WebhookFailureKinds.Timeout, 9),
            ],
            [
                new(acme, new WebhookFailureFact(Start.AddMinutes(-1), WebhookEventTypes.Messages, WebhookFailureKinds.HttpStatus, 503),
                    new WebhookValidationFact(Start.AddMinutes(-5), true, WebhookValidationStates.HashUrl(Url))),
            ]);

        await silo.Link("gw-1").PostWebhookReportAsync(report);
        // The answer was lost, say: the gateway sends the same report again; it counts once.
        await silo.Link("gw-1").PostWebhookReportAsync(report);

        var acmeKey = await InternalTestFixture.InsertTenantKeyAsync(silo, acme);
        var status = await silo.ClientWith(acmeKey).GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal(10, status!.Delivered);
        Assert.Equal(5, status.Failed);
        Assert.Equal(Start.AddHours(-24).AddMinutes(-30).AddSeconds(-20), status.From);
        Assert.Equal(
            [(WebhookFailureKinds.Timeout, WebhookEventTypes.Connect, 3L), (WebhookFailureKinds.HttpStatus, WebhookEventTypes.Messages, 2L)],
            status.Failures.Select(f => (f.Kind, f.Event, f.Count)));
        Assert.Equal(new WebhookEventCounts(WebhookEventTypes.Messages, 0, 2), status.Events.Single(e => e.Event == WebhookEventTypes.Messages));
        Assert.Equal(new WebhookValidation(WebhookValidationStates.Validated, Start.AddMinutes(-5)), status.Validation);
        Assert.Equal((WebhookFailureKinds.HttpStatus, 503), (status.LastFailure!.Kind, status.LastFailure.Status));
        Assert.Contains("503", status.LastFailure.Detail, StringComparison.Ordinal);

        // Two days back: the older hour's failures.
        var wide = await silo.ClientWith(acmeKey).GetFromJsonAsync<WebhookStatusResponse>(
            "/v1/tenants/acme/webhook-status?from=2026-02-28T00:00:00Z", PlatformJson.Options);
        Assert.Equal(9, wide!.Failed);

        // Another tenant's key learns nothing of acme; globex's figures are its own.
        var globexKey = await InternalTestFixture.InsertTenantKeyAsync(silo, globex);
        await TenantApiClient.AssertProblemAsync(
            await silo.ClientWith(globexKey).GetAsync(new Uri("/v1/tenants/acme/webhook-status", UriKind.Relative)), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        var own = await silo.ClientWith(globexKey).GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/globex/webhook-status", PlatformJson.Options);
        Assert.Equal((5L, 0L), (own!.Delivered, own.Failed));
        Assert.Null(own.LastFailure);
        Assert.Equal(WebhookValidationStates.Unknown, own.Validation.State);
    }

    [Fact]
    public async Task Status_ConfigStoredByANewerSilo_WithSettingsThisBuildDoesNotKnow_IsRead()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: Hooked(Url));
        await silo.Link("gw-1").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(),
            [new(Hour, acme, WebhookEventTypes.Connect, WebhookOutcomes.Delivered, 1)],
            [new(acme, null, new WebhookValidationFact(Start.AddMinutes(-5), true, WebhookValidationStates.HashUrl(Url)))]));
        // During a rolling upgrade a silo of the next release stores settings this one has no member for.
        await InternalTestFixture.ExecuteAsync(silo,
            """UPDATE tenant_configs SET config = jsonb_set(config, '{delivery,webhook,compression}', '"gzip"') WHERE tenant_id = @acme""",
            new { acme });

        var status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);

        Assert.Equal(new WebhookValidation(WebhookValidationStates.Validated, Start.AddMinutes(-5)), status!.Validation);
        Assert.Equal(1, status.Delivered);
    }

    [Fact]
    public async Task Validation_LearntForAnOlderUrl_IsUnknownForTheNewOne()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: Hooked(Url));
        await silo.Link("gw-1").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, null, new WebhookValidationFact(Start.AddMinutes(-1), false, WebhookValidationStates.HashUrl("https://old.acme.example/")))]));

        var status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);

        Assert.Equal(WebhookValidationStates.Unknown, status!.Validation.State);
        await silo.Link("gw-2").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, null, new WebhookValidationFact(Start, false, WebhookValidationStates.HashUrl(Url)))]));
        status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal(new WebhookValidation(WebhookValidationStates.Failed, Start), status!.Validation);
        // An older fact arriving late from another gateway does not replace a newer one.
        await silo.Link("gw-1").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, null, new WebhookValidationFact(Start.AddMinutes(-10), true, WebhookValidationStates.HashUrl(Url)))]));
        status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal(WebhookValidationStates.Failed, status!.Validation.State);
    }

    [Fact]
    public async Task Report_NotValidatedWithCause_LastFailureNamesTheCauseAndANewerFailureReplacesIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: Hooked(Url));
        await silo.Link("gw-1").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [new(Hour, acme, "connect", "not_validated", 1)],
            [new(acme, new WebhookFailureFact(Start.AddMinutes(-2), "connect", "not_validated", null, "connection_failed"), null)]));

        var status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal(("not_validated", "connection_failed"), (status!.LastFailure!.Kind, status.LastFailure.Cause));
        Assert.Equal(WebhookFailureKinds.Describe("not_validated", null, "connection_failed"), status.LastFailure.Detail);
        Assert.Contains("could not be made", status.LastFailure.Detail, StringComparison.Ordinal);

        // A newer failure without a cause leaves none behind.
        await silo.Link("gw-2").PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, new WebhookFailureFact(Start.AddMinutes(-1), "messages", "http_status", 502), null)]));
        status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal(("http_status", (string?)null), (status!.LastFailure!.Kind, status.LastFailure.Cause));
    }

    [Fact]
    public async Task Report_Invalid_RejectedNamingTheFieldAndNothingStored()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: Hooked(Url));
        var link = silo.Link("gw-1");

        await AssertRejectedAsync("counts[0].count", link.PostWebhookReportAsync(Report(new(Hour, acme, "connect", "timeout", 0))));
        await AssertRejectedAsync("counts[0].event", link.PostWebhookReportAsync(Report(new(Hour, acme, "disconnect", "timeout", 1))));
        await AssertRejectedAsync("counts[0].outcome", link.PostWebhookReportAsync(Report(new(Hour, acme, "connect", "<script>", 1))));
        await AssertRejectedAsync("reportId", link.PostWebhookReportAsync(new WebhookReport(Guid.Empty, [], [])));
        await AssertRejectedAsync("tenants[0].lastFailure.status", link.PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, new WebhookFailureFact(Start, "connect", "http_status", 1000), null)])));
        // A cause only for not_validated, and only one of the documented ones.
        await AssertRejectedAsync("tenants[0].lastFailure.cause", link.PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, new WebhookFailureFact(Start, "connect", "http_status", 500, "timeout"), null)])));
        await AssertRejectedAsync("tenants[0].lastFailure.cause", link.PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, new WebhookFailureFact(Start, "connect", "not_validated", null, "<script>"), null)])));
        await AssertRejectedAsync("tenants[0].validation.urlHash", link.PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(), [],
            [new(acme, null, new WebhookValidationFact(Start, true, "not-a-hash"))])));
        await AssertRejectedAsync("counts", link.PostWebhookReportAsync(new WebhookReport(Guid.NewGuid(),
            Enumerable.Range(0, 5001).Select(_ => new WebhookOutcomeDelta(Hour, acme, "connect", "timeout", 1)).ToList(), [])));

        var status = await silo.OperatorClient().GetFromJsonAsync<WebhookStatusResponse>("/v1/tenants/acme/webhook-status", PlatformJson.Options);
        Assert.Equal((0L, 0L), (status!.Delivered, status.Failed));
        await TenantApiClient.AssertProblemAsync(
            await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/acme/webhook-status?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", UriKind.Relative)),
            HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "to");
    }

    private static WebhookReport Report(WebhookOutcomeDelta delta) => new(Guid.NewGuid(), [delta], []);

    private static async Task AssertRejectedAsync(string field, Task call)
    {
        var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(() => call);
        Assert.Contains(field, rejected.Errors.Select(e => e.Field));
    }

    private static TenantConfig Hooked(string url) => new()
    {
        Delivery = new DeliveryConfig { Webhook = new WebhookConfig { Url = url } },
    };
}
