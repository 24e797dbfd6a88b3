namespace Platform.Contracts.Problems;

/// <summary>
/// The <c>type</c> member of every RFC 9457 problem document the platform answers with (the silo's REST API, the
/// gateways' ws and wss refusals and their internal API): one URI per <c>code</c>, so a client may key on either.
/// </summary>
public static class ProblemTypes
{
    /// <summary>The part every problem type shares; the code follows it.</summary>
    public const string Prefix = "https://errors.platform.dev/";

    /// <summary>The type URI of the problem whose <c>code</c> is <paramref name="code"/>.</summary>
    /// <param name="code">A stable code from <see cref="ErrorCodes"/>.</param>
    public static string For(string code)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        return Prefix + code;
    }
}
