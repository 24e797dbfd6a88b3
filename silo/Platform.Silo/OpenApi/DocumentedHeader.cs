namespace Platform.Silo.OpenApi;

/// <summary>
/// Endpoint metadata: a header of the request (<see cref="Status"/> null) or of the answer with that status.
/// A required answer header is one the endpoint always sends with that status.
/// </summary>
internal sealed record DocumentedHeader(int? Status, string Name, string Description, bool Required);
