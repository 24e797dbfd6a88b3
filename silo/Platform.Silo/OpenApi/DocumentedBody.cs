namespace Platform.Silo.OpenApi;

/// <summary>
/// Endpoint metadata: the body of the answer with <see cref="Status"/> is declared as <see cref="Type"/> rather than as
/// the type the handler's typed result names.
/// </summary>
internal sealed record DocumentedBody(int Status, Type Type);
