namespace Platform.Gateway.Silo;

/// <summary>The cluster client has not connected yet: the call was not sent, as if no silo could be reached.</summary>
internal sealed class ClusterUnavailableException : Exception
{
    public ClusterUnavailableException()
        : base("Not connected to the cluster yet.")
    {
    }
}
