using Platform.Contracts.Problems;

namespace Platform.AdminWeb.Silo;

/// <summary>An RFC 9457 problem answered by the silo, or a local stand-in when the silo could not be reached.</summary>
public sealed record SiloProblem(int Status, string Code, string Title, string? Detail, IReadOnlyList<FieldError> Errors)
{
    /// <summary>Code used when the silo did not answer at all.</summary>
    public const string UnavailableCode = "silo_unavailable";

    public string Message => string.IsNullOrEmpty(Detail) ? Title : $"{Title}: {Detail}";
}

/// <summary>Either a value or a problem, plus the entity tag when the silo sent one.</summary>
public sealed record SiloResult<T>(T? Value, SiloProblem? Problem, string? ETag = null)
{
    public bool Ok => Problem is null;
}
