namespace Platform.Contracts.Internal;

/// <summary>
/// A gateway's webhook delivery outcomes since its last acknowledged report. A report whose call fails is sent again
/// unchanged, same <paramref name="ReportId"/>; the silo applies each id once, so a report that arrived but whose answer
/// was lost is not counted twice.
/// </summary>
/// <param name="ReportId">Drawn by the gateway per new report.</param>
/// <param name="Counts">Deltas, at most one per (hour, tenant, event, outcome).</param>
/// <param name="Tenants">Per tenant: the newest failure and the newest validation outcome seen since the last report.</param>
public sealed record WebhookReport(Guid ReportId, IReadOnlyList<WebhookOutcomeDelta> Counts, IReadOnlyList<WebhookTenantFacts> Tenants);

/// <summary>Webhook requests of one outcome within one UTC hour.</summary>
/// <param name="Hour">Start of the UTC hour.</param>
/// <param name="TenantId">Tenant.</param>
/// <param name="Event">See <see cref="Webhooks.WebhookEventTypes"/>.</param>
/// <param name="Outcome"><see cref="Webhooks.WebhookOutcomes.Delivered"/> or one of <see cref="Webhooks.WebhookFailureKinds"/>.</param>
/// <param name="Count">Requests; positive.</param>
public sealed record WebhookOutcomeDelta(DateTimeOffset Hour, Guid TenantId, string Event, string Outcome, long Count);

/// <summary>The newest facts of one tenant's webhook on one gateway.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="LastFailure">The newest failure, if any since the last report.</param>
/// <param name="Validation">The newest validation outcome, if any since the last report.</param>
public sealed record WebhookTenantFacts(Guid TenantId, WebhookFailureFact? LastFailure, WebhookValidationFact? Validation);

/// <summary>One failed webhook request (no free text: the silo describes the kind itself).</summary>
/// <param name="At">When it failed.</param>
/// <param name="Event">See <see cref="Webhooks.WebhookEventTypes"/>.</param>
/// <param name="Kind">One of <see cref="Webhooks.WebhookFailureKinds"/>.</param>
/// <param name="Status">The HTTP status of the answer, when there was one.</param>
/// <param name="Cause">
/// For <see cref="Webhooks.WebhookFailureKinds.NotValidated"/>, why the handshake failed when its <c>OPTIONS</c> request
/// got no answer: one of <see cref="Webhooks.WebhookFailureKinds.ValidationCauses"/>; null when it was answered and refused.
/// </param>
public sealed record WebhookFailureFact(DateTimeOffset At, string Event, string Kind, int? Status, string? Cause = null);

/// <summary>Whether the tenant's webhook URL passed the validation handshake, as a gateway last learnt it.</summary>
/// <param name="At">When.</param>
/// <param name="Passed">True when the handshake passed (a request was taken), false when it failed.</param>
/// <param name="UrlHash">Lower-case hex SHA-256 of the URL, so a state learnt for an older URL is not shown for a new one.</param>
public sealed record WebhookValidationFact(DateTimeOffset At, bool Passed, string UrlHash);
