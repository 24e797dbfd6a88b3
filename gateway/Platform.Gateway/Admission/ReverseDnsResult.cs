namespace Platform.Gateway.Admission;

/// <summary>How a reverse lookup of one address ended.</summary>
internal enum ReverseDnsOutcome
{
    /// <summary>DNS answered: <see cref="ReverseDnsResult.Names"/> are the confirmed names, possibly none.</summary>
    Answered,

    /// <summary>DNS did not answer usefully (timeout, SERVFAIL, REFUSED): nothing is known about the address.</summary>
    Failed,
}

/// <summary>
/// The answer of <see cref="IReverseDnsResolver"/>: names (lower case, without the trailing dot) whose forward
/// lookup contains the address, and how long DNS lets the answer be kept.
/// </summary>
internal sealed record ReverseDnsResult(ReverseDnsOutcome Outcome, IReadOnlyList<string> Names, TimeSpan TimeToLive, string? Error = null)
{
    public static ReverseDnsResult Confirmed(IReadOnlyList<string> names, TimeSpan timeToLive) => new(ReverseDnsOutcome.Answered, names, timeToLive);

    public static ReverseDnsResult NoName(TimeSpan timeToLive) => new(ReverseDnsOutcome.Answered, [], timeToLive);

    public static ReverseDnsResult Failure(string error) => new(ReverseDnsOutcome.Failed, [], TimeSpan.Zero, error);
}
