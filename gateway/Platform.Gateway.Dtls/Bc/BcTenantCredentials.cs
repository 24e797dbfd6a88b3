using System.Runtime.CompilerServices;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.OpenSsl;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// A tenant's server certificates as the BouncyCastle engine needs them (chain and private key parsed from the same
/// PEM texts OpenSSL loads), built on a tenant's first BouncyCastle handshake and kept as long as the compiled tenant.
/// </summary>
internal sealed class BcTenantCredentials
{
    private static readonly ConditionalWeakTable<DtlsTenant, BcTenantCredentials> Cache = new();

    private BcTenantCredentials(List<(TlsCertificate[] Chain, AsymmetricKeyParameter Key)> certificates)
    {
        Certificates = certificates;
    }

    /// <summary>Per certificate index of the tenant: the chain (leaf first) and its private key.</summary>
    public IReadOnlyList<(TlsCertificate[] Chain, AsymmetricKeyParameter Key)> Certificates { get; }

    public static BcTenantCredentials For(DtlsTenant tenant, BcTlsCrypto crypto) =>
        Cache.GetValue(tenant, t => Build(t.Settings, crypto));

    private static BcTenantCredentials Build(DtlsTenantSettings settings, BcTlsCrypto crypto)
    {
        var list = new List<(TlsCertificate[], AsymmetricKeyParameter)>();
        foreach (var pem in settings.CertificatePems)
        {
            var chain = new List<TlsCertificate>();
            AsymmetricKeyParameter? key = null;
            using var reader = new PemReader(new StringReader(pem));
            while (reader.ReadObject() is { } item)
            {
                switch (item)
                {
                    case Org.BouncyCastle.X509.X509Certificate certificate:
                        chain.Add(new BcTlsCertificate(crypto, certificate.GetEncoded()));
                        break;
                    case AsymmetricCipherKeyPair pair:
                        key = pair.Private;
                        break;
                    case AsymmetricKeyParameter { IsPrivate: true } privateKey:
                        key = privateKey;
                        break;
                }
            }

            if (chain.Count > 0 && key is not null)
            {
                list.Add(([.. chain], key));
            }
        }

        return new BcTenantCredentials(list);
    }

    /// <summary>The TLS signature algorithm a key signs with (ecdsa or rsa); -1 for a key type the engine does not serve.</summary>
    public static short SignatureAlgorithmOf(AsymmetricKeyParameter key) => key switch
    {
        ECPrivateKeyParameters => SignatureAlgorithm.ecdsa,
        RsaKeyParameters => SignatureAlgorithm.rsa,
        _ => -1,
    };
}
