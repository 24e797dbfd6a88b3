namespace Platform.Contracts.Events;

/// <summary>
/// One event for <see cref="WebhookHttpClient.PostAsync"/>: the JSON <see cref="Body"/> and what its headers say
/// (<see cref="WebhookHeaders"/>); it is signed with <see cref="Secret"/> and, during a rotation, also with
/// <see cref="PreviousSecret"/> (<see cref="WebhookSignature"/>).
/// </summary>
public sealed record WebhookPost(
    string Tenant, string EventId, string EventType, long? Sequence, ReadOnlyMemory<byte> Body, string Secret, string? PreviousSecret = null);
