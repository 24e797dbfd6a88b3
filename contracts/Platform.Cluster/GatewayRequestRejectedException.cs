using Platform.Contracts.Problems;

namespace Platform.Cluster;

/// <summary>
/// The silo refused a gateway's request as invalid (the HTTP API's 400): sending it again unchanged would be refused
/// again, so the gateway drops or fixes it.
/// </summary>
[GenerateSerializer, Alias("platform.gateway.request-rejected")]
public sealed class GatewayRequestRejectedException : Exception
{
    public GatewayRequestRejectedException()
    {
    }

    public GatewayRequestRejectedException(string message)
        : base(message)
    {
    }

    public GatewayRequestRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GatewayRequestRejectedException(IReadOnlyList<FieldError> errors)
        : base(string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}")))
    {
        Errors = errors;
    }

    /// <summary>What was wrong, field by field.</summary>
    [Id(0)]
    public IReadOnlyList<FieldError> Errors { get; init; } = [];
}
