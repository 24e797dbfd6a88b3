namespace Platform.Silo.Events;

/// <summary>
/// Where and how a tenant's events are sent now: its slug, webhook URL, timeout, live secrets, the URL that last passed
/// the handshake, and the configuration revision these were read from.
/// </summary>
internal sealed record WebhookTarget(string Slug, Uri? Url, TimeSpan Timeout, string? Secret, string? PreviousSecret, string? ValidatedUrl, long Revision);
