using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;

namespace Platform.Silo.Internal;

/// <summary>Validation of gateway registration requests.</summary>
internal static class GatewayRequestValidation
{
    public static List<FieldError> Validate(RegisterGatewayRequest request)
    {
        var errors = new List<FieldError>();
        if (!ConnectionId.IsValidNodeId(request.NodeId))
        {
            errors.Add(new("nodeId", FieldErrorCodes.InvalidFormat, "A node id is 1..40 characters of lower-case letters, digits and '-'."));
        }

        if (string.IsNullOrWhiteSpace(request.Version) || request.Version.Length > 100)
        {
            errors.Add(new("version", FieldErrorCodes.Required, "A version of 1..100 characters is required."));
        }

        if (request.Listeners.Count > 64 || request.Listeners.Any(l => string.IsNullOrWhiteSpace(l) || l.Length > 100))
        {
            errors.Add(new("listeners", FieldErrorCodes.InvalidFormat, "At most 64 listeners of 1..100 characters each."));
        }

        return errors;
    }
}
