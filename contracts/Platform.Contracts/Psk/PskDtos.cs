namespace Platform.Contracts.Psk;

/// <summary>Body of <c>POST /v1/tenants/{slug}/psk-identities</c>.</summary>
/// <param name="Identity">Device part of the identity; clients send <c>{slug}/{identity}</c>. 1..64 of letters, digits, '-', '_', '.'.</param>
/// <param name="Key">The pre-shared key, hex, 16..64 bytes. Write-only.</param>
public sealed record CreatePskIdentityRequest(string Identity, string Key);

/// <summary>A PSK identity. Never carries the key.</summary>
/// <param name="Id">Identifier.</param>
/// <param name="Identity">Device part of the identity.</param>
/// <param name="FullIdentity">What clients send: <c>{slug}/{identity}</c>.</param>
/// <param name="CreatedAt">Creation time.</param>
public sealed record PskIdentityResponse(Guid Id, string Identity, string FullIdentity, DateTimeOffset CreatedAt);
