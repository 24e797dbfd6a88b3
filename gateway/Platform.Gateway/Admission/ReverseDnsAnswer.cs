namespace Platform.Gateway.Admission;

/// <summary>
/// What admission may use of a client's host names: <see cref="Known"/> is false while the lookup is pending, was
/// not started because of the limits, or failed; then <see cref="Names"/> is empty and host-name entries can
/// neither admit nor clear the client.
/// </summary>
internal readonly record struct ReverseDnsAnswer(bool Known, IReadOnlyList<string> Names)
{
    /// <summary>No lookup was needed (the lists have no host-name entries), or DNS confirmed no name.</summary>
    public static readonly ReverseDnsAnswer NoNames = new(true, []);

    /// <summary>The client's names are not known (yet).</summary>
    public static readonly ReverseDnsAnswer Unknown = new(false, []);
}
