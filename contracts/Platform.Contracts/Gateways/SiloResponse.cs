namespace Platform.Contracts.Gateways;

/// <summary>A silo of the control plane's Orleans cluster, as the membership table records it.</summary>
/// <param name="Name">Name the silo gave itself.</param>
/// <param name="HostName">Host it runs on.</param>
/// <param name="Address">Address other silos reach it at.</param>
/// <param name="SiloPort">Port other silos connect to.</param>
/// <param name="GatewayPort">Port Orleans clients connect to.</param>
/// <param name="Generation">Number of this start of the process; a restart on the same address gets a new one.</param>
/// <param name="Status"><c>joining</c>, <c>active</c>, <c>shuttingDown</c>, <c>stopping</c> or <c>dead</c>.</param>
/// <param name="StartedAt">When this silo started.</param>
/// <param name="LastAliveAt">Its last liveness write to the table.</param>
/// <param name="SuspectedBy">How many silos currently suspect it of having failed.</param>
public sealed record SiloResponse(
    string Name,
    string HostName,
    string Address,
    int SiloPort,
    int GatewayPort,
    int Generation,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset LastAliveAt,
    int SuspectedBy);
