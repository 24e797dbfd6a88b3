namespace Platform.Contracts.Gateways;

/// <summary>Values of <see cref="SiloResponse.Status"/>.</summary>
public static class SiloStatuses
{
    /// <summary>Created, not yet joining.</summary>
    public const string Created = "created";
    /// <summary>Starting: announcing itself to the cluster.</summary>
    public const string Joining = "joining";
    /// <summary>A member of the cluster, serving grains.</summary>
    public const string Active = "active";
    /// <summary>Leaving gracefully.</summary>
    public const string ShuttingDown = "shuttingDown";
    /// <summary>Leaving at once.</summary>
    public const string Stopping = "stopping";
    /// <summary>Gone: stopped, or declared dead by the others.</summary>
    public const string Dead = "dead";
}
