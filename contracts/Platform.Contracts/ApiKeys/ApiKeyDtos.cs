namespace Platform.Contracts.ApiKeys;

/// <summary>Body of <c>POST /v1/tenants/{slug}/api-keys</c>.</summary>
/// <param name="Name">Label, 1..100 characters.</param>
public sealed record CreateApiKeyRequest(string Name);

/// <summary>An API key's public facts.</summary>
/// <param name="Id">Identifier, also the public prefix of the key.</param>
/// <param name="Name">Label.</param>
/// <param name="Prefix">First characters of the key, to recognise it.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="LastUsedAt">Last successful use, if any.</param>
/// <param name="RevokedAt">Revocation time, if revoked.</param>
public sealed record ApiKeyResponse(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>Answer to a key creation: the only time the secret is shown.</summary>
/// <param name="Key">The key's facts.</param>
/// <param name="Secret">The full key to send as <c>Authorization: Bearer …</c>. Not retrievable later.</param>
public sealed record CreatedApiKeyResponse(ApiKeyResponse Key, string Secret);
