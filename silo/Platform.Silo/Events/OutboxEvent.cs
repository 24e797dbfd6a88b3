namespace Platform.Silo.Events;

/// <summary>A lifecycle event about to be recorded by <see cref="EventOutbox"/>.</summary>
internal sealed record OutboxEvent(
    Guid TenantId,
    string Type,
    string ConnectionId,
    string Protocol,
    string RemoteAddress,
    int RemotePort,
    int? CloseCode,
    string? CloseReason,
    DateTimeOffset OccurredAt);
