namespace Platform.Gateway.Admin;

/// <summary>The answer of the admin listener's <c>GET /healthz</c>.</summary>
/// <param name="NodeId">This process's node id.</param>
/// <param name="ConfigRevision">The config revision served (0 before any snapshot).</param>
/// <param name="ClusterConnected">Whether the cluster client is connected to a silo now.</param>
/// <param name="Registered">Whether a silo has accepted this node's registration since it started.</param>
internal sealed record GatewayHealth(string NodeId, long ConfigRevision, bool ClusterConnected, bool Registered);
