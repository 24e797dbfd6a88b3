using Platform.Contracts.Psk;

namespace Platform.Silo.Psk;

/// <summary>The public facts of a PSK identity row.</summary>
internal sealed record PskRow(Guid Id, string Identity, DateTime CreatedAt)
{
    public PskIdentityResponse ToResponse(string slug) =>
        new(Id, Identity, $"{slug}/{Identity}", new DateTimeOffset(DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc)));
}
