namespace Platform.Silo.OpenApi;

/// <summary>Endpoint metadata: an RFC 9457 problem answer the endpoint can give, and the <c>code</c> values it can carry.</summary>
internal sealed record DocumentedProblem(int Status, IReadOnlyList<string> Codes);
