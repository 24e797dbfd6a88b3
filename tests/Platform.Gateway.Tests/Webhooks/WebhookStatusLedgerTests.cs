using Platform.Contracts.Webhooks;
using Platform.Gateway.Webhooks;
using Platform.Testing;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>The gateway's in-memory webhook counts: the kind of each failure, and counts handed back when a report fails.</summary>
public sealed class WebhookStatusLedgerTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 59, 30, TimeSpan.Zero);
    private const string Url = "https://hooks.acme.example/x";

    [Theory]
    [InlineData(WebhookFailures.Timeout, 0, WebhookFailureKinds.Timeout, null, null)]
    [InlineData(WebhookFailures.Forbidden, 0, WebhookFailureKinds.EgressRefused, null, null)]
    [InlineData(WebhookFailures.Unreachable, 0, WebhookFailureKinds.ConnectionFailed, null, null)]
    [InlineData(WebhookFailures.Redirect, 307, WebhookFailureKinds.Redirect, 307, null)]
    [InlineData(WebhookFailures.TooLarge, 200, WebhookFailureKinds.BodyTooLarge, 200, null)]
    [InlineData(WebhookFailures.NotValidated, 0, WebhookFailureKinds.NotValidated, null, null)]
    [InlineData(WebhookFailures.NotValidatedTimeout, 0, WebhookFailureKinds.NotValidated, null, WebhookFailureKinds.Timeout)]
    [InlineData(WebhookFailures.NotValidatedUnreachable, 0, WebhookFailureKinds.NotValidated, null, WebhookFailureKinds.ConnectionFailed)]
    [InlineData(WebhookFailures.InvalidAnswer, 200, WebhookFailureKinds.Garbage, 200, null)]
    [InlineData("status_502", 502, WebhookFailureKinds.HttpStatus, 502, null)]
    [InlineData("status_x", 0, WebhookFailureKinds.Garbage, null, null)]
    public void Classify_EveryFailureWord_HasItsKind(string failure, int status, string kind, int? shown, string? cause) =>
        Assert.Equal((kind, shown, cause), WebhookStatusLedger.Classify(failure, status));

    [Fact]
    public void Failed_NotValidatedWithCause_FactCarriesTheCauseAndTheUrlCountsAsNotValidated()
    {
        var ledger = new WebhookStatusLedger(new ManualTimeProvider(Start));
        var acme = Guid.NewGuid();
        ledger.Failed(acme, WebhookEventTypes.Connect, WebhookFailureKinds.NotValidated, null, Url, WebhookFailureKinds.Timeout);

        var facts = Assert.Single(ledger.Take(100)!.Tenants);
        Assert.Equal(WebhookFailureKinds.Timeout, facts.LastFailure!.Cause);
        Assert.False(facts.Validation!.Passed);
    }

    [Fact]
    public void TakeAndReturn_CountsPerHourKeptAndNewestFactsWin()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new WebhookStatusLedger(time);
        var acme = Guid.NewGuid();
        var other = Guid.NewGuid();
        Assert.Null(ledger.Take(100));

        ledger.Failed(acme, WebhookEventTypes.Connect, WebhookFailureKinds.Timeout, null, Url);
        ledger.Failed(acme, WebhookEventTypes.Connect, WebhookFailureKinds.Timeout, null, Url);
        time.Advance(TimeSpan.FromMinutes(1));
        ledger.Failed(acme, WebhookEventTypes.Messages, WebhookFailureKinds.HttpStatus, 500, Url);
        ledger.Delivered(other, WebhookEventTypes.Messages, Url);

        var report = ledger.Take(100)!;
        Assert.Equal(
            [
                (Start.AddSeconds(-3570), acme, "connect", "timeout", 2L),
                (Start.AddSeconds(30), other, "messages", "delivered", 1L),
                (Start.AddSeconds(30), acme, "messages", "http_status", 1L),
            ],
            report.Counts.Select(c => (c.Hour, c.TenantId, c.Event, c.Outcome, c.Count)).OrderBy(c => c.Hour).ThenBy(c => c.Outcome, StringComparer.Ordinal));
        var acmeFacts = report.Tenants.Single(t => t.TenantId == acme);
        Assert.Equal((WebhookFailureKinds.HttpStatus, 500), (acmeFacts.LastFailure!.Kind, acmeFacts.LastFailure.Status));
        // A POST that was answered shows the URL passed the handshake.
        Assert.True(acmeFacts.Validation!.Passed);
        Assert.Equal(WebhookValidationStates.HashUrl(Url), acmeFacts.Validation.UrlHash);
        Assert.Null(ledger.Take(100));

        // The report failed: its counts go with the next one, beside what was counted meanwhile, and the newer failure wins.
        time.Advance(TimeSpan.FromMinutes(1));
        ledger.Failed(acme, WebhookEventTypes.Connect, WebhookFailureKinds.NotValidated, null, Url);
        ledger.Return(report);
        var next = ledger.Take(100)!;
        Assert.NotEqual(report.ReportId, next.ReportId);
        Assert.Equal(2, next.Counts.Single(c => c.Outcome == "timeout").Count);
        Assert.Equal(1, next.Counts.Single(c => c.Outcome == "not_validated").Count);
        var facts = next.Tenants.Single(t => t.TenantId == acme);
        Assert.Equal(WebhookFailureKinds.NotValidated, facts.LastFailure!.Kind);
        Assert.False(facts.Validation!.Passed);
    }

    [Fact]
    public void Take_AtMostTheLimit_TheRestWaits()
    {
        var ledger = new WebhookStatusLedger(new ManualTimeProvider(Start));
        for (var i = 0; i < 5; i++)
        {
            ledger.Delivered(Guid.NewGuid(), WebhookEventTypes.Connect, Url);
        }

        Assert.Equal(3, ledger.Take(3)!.Counts.Count);
        Assert.Equal(2, ledger.Take(3)!.Counts.Count);
        Assert.Null(ledger.Take(3));
    }

    [Fact]
    public void Return_PastTheKeyCap_FoldsIntoTheCurrentHourKeepingTheCount()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new WebhookStatusLedger(time);
        var tenant = Guid.NewGuid();
        var hours = WebhookStatusLedger.MaxKeys + 10;
        var report = new Contracts.Internal.WebhookReport(Guid.NewGuid(),
            Enumerable.Range(0, hours).Select(h => new Contracts.Internal.WebhookOutcomeDelta(
                Start.AddHours(-h - 1), tenant, WebhookEventTypes.Connect, WebhookFailureKinds.Timeout, 1)).ToList(), []);

        ledger.Return(report);

        Assert.Equal(1, ledger.KeyCount);
        Assert.Equal(hours, ledger.Take(10)!.Counts.Single().Count);
    }
}
