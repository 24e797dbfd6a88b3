namespace Platform.Contracts.Egress;

/// <summary>
/// What kind of address a tenant's target is, as the egress policy sees it. Every class but <see cref="Public"/> is
/// refused by default; IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 <c>64:ff9b::/96</c>,
/// 6to4 <c>2002::/16</c>, Teredo <c>2001::/32</c>) take the class of the IPv4 address they carry.
/// </summary>
public enum EgressAddressClass
{
    /// <summary>Globally routed unicast: allowed unless a denied range covers it.</summary>
    Public = 0,
    /// <summary><c>0.0.0.0</c> and <c>::</c>: a connect to it reaches the local host. Never allowed.</summary>
    Unspecified,
    /// <summary><c>0.0.0.0/8</c> besides <c>0.0.0.0</c> ("this network").</summary>
    ThisNetwork,
    /// <summary><c>127.0.0.0/8</c>, <c>::1</c> and the <c>localhost</c> names (RFC 6761).</summary>
    Loopback,
    /// <summary>RFC 1918: <c>10.0.0.0/8</c>, <c>172.16.0.0/12</c>, <c>192.168.0.0/16</c>.</summary>
    Private,
    /// <summary>Carrier-grade NAT <c>100.64.0.0/10</c> (RFC 6598).</summary>
    SharedAddressSpace,
    /// <summary><c>169.254.0.0/16</c> (including the cloud metadata address <c>169.254.169.254</c>) and <c>fe80::/10</c>.</summary>
    LinkLocal,
    /// <summary>IETF protocol assignments <c>192.0.0.0/24</c>.</summary>
    ProtocolAssignments,
    /// <summary><c>192.0.2.0/24</c>, <c>198.51.100.0/24</c>, <c>203.0.113.0/24</c>, <c>2001:db8::/32</c>, <c>3fff::/20</c>.</summary>
    Documentation,
    /// <summary><c>198.18.0.0/15</c> and <c>2001:2::/48</c>.</summary>
    Benchmarking,
    /// <summary>Unique-local <c>fc00::/7</c> (also holds the IPv6 cloud metadata address <c>fd00:ec2::254</c>).</summary>
    UniqueLocal,
    /// <summary>Deprecated site-local <c>fec0::/10</c>.</summary>
    SiteLocal,
    /// <summary><c>224.0.0.0/4</c> and <c>ff00::/8</c>. Never allowed.</summary>
    Multicast,
    /// <summary><c>255.255.255.255</c>. Never allowed.</summary>
    Broadcast,
    /// <summary>
    /// Reserved or not routed: <c>240.0.0.0/4</c>, <c>192.88.99.0/24</c>, <c>100::/64</c>, <c>64:ff9b:1::/48</c>, ORCHID,
    /// <c>5f00::/16</c>, and IPv6 outside <c>2000::/3</c>.
    /// </summary>
    Reserved,
}
