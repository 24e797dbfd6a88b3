namespace Platform.Silo.OpenApi;

/// <summary>
/// Endpoint metadata: an example request body (<see cref="Status"/> null) or answer body for that status, as the
/// contract object it is serialised from, so an example cannot drift from the shape the API speaks.
/// </summary>
internal sealed record DocumentedExample(int? Status, object Value);
