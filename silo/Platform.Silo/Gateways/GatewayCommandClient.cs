using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Problems;
using Platform.Silo.Gateways.Nodes;

namespace Platform.Silo.Gateways;

/// <summary>Outcome of one call to a gateway's internal API.</summary>
[GenerateSerializer]
internal enum GatewayCallStatus
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

/// <summary>What a gateway answered: the outcome, its body when accepted, its field errors when invalid.</summary>
internal sealed record GatewayCallResult<TResponse>(GatewayCallStatus Status, TResponse? Body = null, IReadOnlyList<FieldError>? Errors = null)
    where TResponse : class;

/// <summary>
/// Sends commands to gateways through their grains (<see cref="IGatewayGrain.CommandAsync"/>), which know how to reach
/// them; the request and answer bodies are the JSON the gateway's internal API takes and gives.
/// </summary>
internal sealed partial class GatewayCommandClient(IGrainFactory grains, ILogger<GatewayCommandClient> logger)
{
    public async Task<GatewayCallResult<TResponse>> PostAsync<TRequest, TResponse>(
        string gatewayId, string path, TRequest body, CancellationToken cancellationToken)
        where TResponse : class
    {
        GatewayCommandAnswer answer;
        try
        {
            answer = await grains.GetGrain<IGatewayGrain>(gatewayId)
                .CommandAsync(new GatewayCommand(path, JsonSerializer.SerializeToUtf8Bytes(body, PlatformJson.Options)), cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            // The grain could not be reached (a silo failing over): the gateway did not get the command.
            LogGrainUnreachable(logger, e, gatewayId, path);
            return new(GatewayCallStatus.Unavailable);
        }

        return answer.Status switch
        {
            GatewayCallStatus.Accepted => new(GatewayCallStatus.Accepted,
                typeof(TResponse) == typeof(NoBody) || answer.Body is not { Length: > 0 } accepted ? null : JsonSerializer.Deserialize<TResponse>(accepted, PlatformJson.Options)),
            GatewayCallStatus.Invalid => new(GatewayCallStatus.Invalid, Errors: JsonSerializer.Deserialize<List<FieldError>>(answer.Body!, PlatformJson.Options)),
            _ => new(answer.Status),
        };
    }

    /// <summary>Marker for commands whose answer has no body worth reading.</summary>
    public sealed class NoBody;

    [LoggerMessage(EventId = 3402, Level = LogLevel.Warning, Message = "The grain of gateway {GatewayId} could not be reached for {Path}")]
    private static partial void LogGrainUnreachable(ILogger logger, Exception exception, string gatewayId, string path);
}
