namespace Platform.Contracts.Egress;

/// <summary>Why the egress policy decided as it did.</summary>
public enum EgressVerdictReason
{
    /// <summary>A public address no denied range covers.</summary>
    Public = 0,
    /// <summary>A class refused by default, re-allowed by one of the operator's <c>AllowedRanges</c>.</summary>
    AllowedRange,
    /// <summary>A class refused by default (loopback, private, link-local, ...) that no allowed range covers.</summary>
    DefaultDenied,
    /// <summary>One of the operator's <c>DeniedRanges</c> covers the address; nothing re-allows it.</summary>
    DeniedRange,
    /// <summary>Unspecified, multicast or broadcast: refused whatever the operator allows.</summary>
    NeverAllowed,
}
