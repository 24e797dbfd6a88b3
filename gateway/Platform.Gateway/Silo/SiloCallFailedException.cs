namespace Platform.Gateway.Silo;

/// <summary>
/// A call to the cluster came back with a failure of a kind the gateway has no meaning for: the silo's grain failed
/// with an error of its own, or one side could not read the other's message (a silo and a gateway of builds whose
/// wire forms differ, during a rolling upgrade). It is the silo's answer, not a fault of the gateway: the loop that
/// made the call logs it and tries again, as for any other failed answer, and the gateway keeps serving.
/// </summary>
internal sealed class SiloCallFailedException(string call, Exception failure)
    : Exception($"The silo's answer to {call} was a failure: {failure.GetType().Name}: {failure.Message}", failure)
{
    public string Call { get; } = call;
}
