using Orleans.Runtime;
using Orleans.Serialization;
using Platform.Cluster;

namespace Platform.Gateway.Silo;

/// <summary>
/// The failures of a call to the cluster that the gateway's loops outlive (they keep serving and try again), in two
/// kinds: the cluster could not be reached (fail-static applies), or a silo answered with a failure.
/// </summary>
internal static class SiloFailure
{
    /// <summary>
    /// No silo took the call: the client has not connected yet, Orleans found no silo or lost it mid-call
    /// (<see cref="SiloUnavailableException"/>, <c>ConnectionFailedException</c>, <see cref="OrleansMessageRejectionException"/>,
    /// all <see cref="OrleansException"/>s), or the answer did not come in time.
    /// </summary>
    public static bool IsUnreachable(Exception exception) =>
        exception is ClusterUnavailableException or OrleansException or TimeoutException;

    /// <summary>
    /// A silo answered, with a failure: it no longer knows the node, refused the request as invalid, failed with an
    /// error of a type the gateway does not know (a database error, say, arrives as <see cref="UnavailableExceptionFallbackException"/>),
    /// or with any other failure, including a message one side could not read (<see cref="SiloCallFailedException"/>).
    /// </summary>
    public static bool IsAnswered(Exception exception) =>
        exception is GatewayUnknownException or GatewayRequestRejectedException or UnavailableExceptionFallbackException or SiloCallFailedException;

    /// <summary>Either kind.</summary>
    public static bool IsExpected(Exception exception) => IsUnreachable(exception) || IsAnswered(exception);
}
