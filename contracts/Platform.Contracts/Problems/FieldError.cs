namespace Platform.Contracts.Problems;

/// <summary>One validation failure: the JSON path of the offending field, a stable code and a message.</summary>
/// <param name="Field">JSON path of the field, for example <c>access.allowedClients</c>.</param>
/// <param name="Code">Stable code such as <c>out_of_range</c>, <c>required</c>, <c>too_long</c>, <c>invalid_format</c>.</param>
/// <param name="Message">Human-readable explanation.</param>
public sealed record FieldError(string Field, string Code, string Message);
