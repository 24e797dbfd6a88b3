using System.Net;

namespace Platform.Gateway.Admission;

/// <summary>
/// Finds the forward-confirmed host names of a client address. <see cref="ReverseDnsCache"/> calls it off the
/// accept path, within its limits, and caches what it answers.
/// </summary>
internal interface IReverseDnsResolver
{
    /// <summary>
    /// Resolves <paramref name="address"/>; DNS errors and timeouts come back as <see cref="ReverseDnsOutcome.Failed"/>,
    /// not as exceptions. Cancellation throws.
    /// </summary>
    Task<ReverseDnsResult> ResolveAsync(IPAddress address, CancellationToken cancellationToken);
}
