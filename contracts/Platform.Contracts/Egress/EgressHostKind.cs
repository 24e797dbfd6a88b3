namespace Platform.Contracts.Egress;

/// <summary>What <see cref="EgressHost.Parse"/> made of a host.</summary>
public enum EgressHostKind
{
    /// <summary>Neither an address nor a usable host name (for example <c>1.2.3.999</c>, whose last label is numeric).</summary>
    Invalid = 0,
    /// <summary>A numeric form of an IPv4 or IPv6 address; <see cref="EgressHost.Address"/> holds it.</summary>
    Address,
    /// <summary><c>localhost</c> or a name under it (RFC 6761): always the loopback addresses, never asked of DNS.</summary>
    LoopbackName,
    /// <summary>A DNS name, resolved (and its addresses checked) where a connection is made.</summary>
    Name,
}
