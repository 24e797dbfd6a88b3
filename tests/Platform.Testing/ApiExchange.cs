namespace Platform.Testing;

/// <summary>One request to the silo's public API and its answer, as <see cref="SiloApp"/> recorded it.</summary>
/// <param name="Method">The request's method.</param>
/// <param name="Path">The request's path.</param>
/// <param name="RoutePattern">The pattern of the endpoint that answered, such as <c>/v1/tenants/{slug}</c>.</param>
/// <param name="Status">The answer's status.</param>
/// <param name="ContentType">The answer's media type, without parameters; null without a body.</param>
/// <param name="Body">The answer's body as text.</param>
/// <param name="Headers">The answer's headers.</param>
public sealed record ApiExchange(
    string Method,
    string Path,
    string RoutePattern,
    int Status,
    string? ContentType,
    string Body,
    IReadOnlyDictionary<string, string> Headers)
{
    public override string ToString() => $"{Method} {Path} ({RoutePattern}) answered {Status}";
}
