namespace Platform.Silo.Tenants.Grains;

/// <summary>A validated certificate as it is stored: public parts, and the private key already encrypted for <see cref="Id"/>.</summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.certificate")]
internal sealed record CertificateRecord(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Subject,
    [property: Id(2)] string Issuer,
    [property: Id(3)] string Thumbprint,
    [property: Id(4)] IReadOnlyList<string> HostNames,
    [property: Id(5)] DateTimeOffset NotBefore,
    [property: Id(6)] DateTimeOffset NotAfter,
    [property: Id(7)] string KeyAlgorithm,
    [property: Id(8)] string ChainPem,
    [property: Id(9)] byte[] PrivateKeyEnc,
    [property: Id(10)] int ChainLength);
