namespace Platform.Silo.Events;

/// <summary>A webhook host resolved to an address the operator's egress policy refuses; nothing was connected.</summary>
internal sealed class WebhookEgressException(string message) : IOException(message);
