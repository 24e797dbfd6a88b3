using Platform.Contracts.Problems;

namespace Platform.Cluster;

/// <summary>Outcome of one command to a gateway.</summary>
[GenerateSerializer]
public enum GatewayCallStatus
{
    /// <summary>The gateway took the command.</summary>
    Accepted,

    /// <summary>The gateway does not hold the target (for example the connection just closed).</summary>
    NotFound,

    /// <summary>The gateway found the command itself invalid for its target (for example a datagram over the DTLS MTU).</summary>
    Invalid,

    /// <summary>The gateway failed, refused, did not answer in time, or is not live.</summary>
    Unavailable,
}

/// <summary>What a gateway answered to a command.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Delivered">For a broadcast: the connections the message was queued on.</param>
/// <param name="Errors">When invalid: what was wrong, field by field.</param>
[GenerateSerializer, Immutable, Alias("platform.gateway.command-answer")]
public sealed record GatewayCommandAnswer(
    [property: Id(0)] GatewayCallStatus Status,
    [property: Id(1)] long Delivered = 0,
    [property: Id(2)] IReadOnlyList<FieldError>? Errors = null)
{
    public static readonly GatewayCommandAnswer Accepted = new(GatewayCallStatus.Accepted);
    public static readonly GatewayCommandAnswer NotFound = new(GatewayCallStatus.NotFound);
    public static readonly GatewayCommandAnswer Unavailable = new(GatewayCallStatus.Unavailable);

    public static GatewayCommandAnswer Invalid(params FieldError[] errors) => new(GatewayCallStatus.Invalid, Errors: errors);
}
