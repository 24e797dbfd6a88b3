using System.Diagnostics.CodeAnalysis;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;

namespace Platform.Silo.Certificates;

/// <summary>
/// Decides whether an uploaded certificate can serve TLS for a tenant: it parses (PEM or PKCS#12),
/// carries the private key of its leaf, has an allowed key (RSA 2048..4096 bits, ECDSA on P-256 or
/// P-384), is valid now, may be used by a TLS server and names at least one DNS host. Pure: no I/O,
/// the clock is a parameter. Messages never quote key material.
/// </summary>
internal static class CertificateValidator
{
    public const int MaxChainLength = 10;

    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";
    private const string P256Oid = "1.2.840.10045.3.1.7";
    private const string P384Oid = "1.3.132.0.34";
    private const int MinRsaBits = 2048;
    private const int MaxRsaBits = 4096;
    private const string Pbes2Oid = "1.2.840.113549.1.5.13";
    private const string Pbkdf2Oid = "1.2.840.113549.1.5.12";
    private const int MaxKdfIterations = 600_000;
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string KeyUsageOid = "2.5.29.15";
    private const string EnhancedKeyUsageOid = "2.5.29.37";
    private const string SubjectAltNameOid = "2.5.29.17";
    private const string PemField = "pem";
    private const string PfxField = "pfx";
    private const string PasswordField = "password";

    private static readonly Pkcs12LoaderLimits PfxLimits = new(Pkcs12LoaderLimits.Defaults)
    {
        MaxCertificates = MaxChainLength,
        MaxKeys = 1,
    };

    /// <param name="request">The upload.</param>
    /// <param name="now">The time validity is judged at.</param>
    /// <param name="certificate">What is stored, when accepted.</param>
    /// <param name="rejection">Why not, otherwise.</param>
    /// <param name="refusedWildcard">
    /// True for a DNS name no tenant may claim (a wildcard directly under a public suffix); checked before the names'
    /// format, so <c>*.com</c> is reported as that rather than as a malformed name.
    /// </param>
    public static bool TryValidate(
        UploadCertificateRequest request, DateTimeOffset now,
        [NotNullWhen(true)] out ValidatedCertificate? certificate, [NotNullWhen(false)] out CertificateRejection? rejection,
        Func<string, bool>? refusedWildcard = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        certificate = null;
        var hasPem = !string.IsNullOrWhiteSpace(request.Pem);
        var hasPfx = !string.IsNullOrWhiteSpace(request.Pfx);
        if (hasPem == hasPfx)
        {
            rejection = hasPem
                ? new(ErrorCodes.ValidationFailed, PfxField, FieldErrorCodes.Inconsistent, "Send either 'pem' or 'pfx', not both.")
                : new(ErrorCodes.ValidationFailed, PemField, FieldErrorCodes.Required, "Send the certificate as 'pem' or as base64 'pfx'.");
            return false;
        }

        var source = hasPem ? PemField : PfxField;
        var certificates = new List<X509Certificate2>();
        AsymmetricAlgorithm? key = null;
        try
        {
            rejection = hasPem
                ? LoadPem(request.Pem!, request.Password, certificates, out key)
                : LoadPfx(request.Pfx!, request.Password, certificates, out key);
            if (rejection is not null)
            {
                return false;
            }

            rejection = Check(source, certificates, key!, now, refusedWildcard, out certificate);
            return rejection is null;
        }
        finally
        {
            key?.Dispose();
            foreach (var c in certificates)
            {
                c.Dispose();
            }
        }
    }

    private static CertificateRejection? LoadPem(string pem, string? password, List<X509Certificate2> certificates, out AsymmetricAlgorithm? key)
    {
        key = null;
        if (pem.Contains("Proc-Type:", StringComparison.Ordinal))
        {
            return Invalid(PemField, "Keys encrypted in the legacy OpenSSL PEM format are not supported; convert the key to encrypted PKCS#8 (openssl pkcs8 -topk8).");
        }

        string? keyLabel = null;
        byte[]? keyDer = null;
        try
        {
            var rest = pem.AsSpan();
            while (PemEncoding.TryFind(rest, out var fields))
            {
                var label = rest[fields.Label].ToString();
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out _))
                {
                    return Invalid(PemField, $"A PEM block labelled '{Shorten(label)}' is not valid base64.");
                }

                rest = rest[fields.Location.End..];
                switch (label)
                {
                    case "CERTIFICATE":
                        if (certificates.Count == MaxChainLength)
                        {
                            return Invalid(PemField, $"The chain holds more than {MaxChainLength} certificates.");
                        }

                        try
                        {
                            certificates.Add(X509CertificateLoader.LoadCertificate(der));
                        }
                        catch (CryptographicException)
                        {
                            return Invalid(PemField, $"Certificate {certificates.Count + 1} of the PEM cannot be parsed.");
                        }

                        break;
                    case "PRIVATE KEY" or "ENCRYPTED PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY":
                        if (keyDer is not null)
                        {
                            CryptographicOperations.ZeroMemory(der);
                            return Invalid(PemField, "The PEM holds more than one private key.");
                        }

                        keyLabel = label;
                        keyDer = der;
                        break;
                    case "EC PARAMETERS":
                        break;
                    case "DSA PRIVATE KEY":
                        return KeyNotAllowed(PemField, "DSA");
                    default:
                        return Invalid(PemField, $"The PEM holds an unsupported block labelled '{Shorten(label)}'.");
                }
            }

            if (certificates.Count == 0)
            {
                return Invalid(PemField, "The PEM holds no certificate.");
            }

            if (keyDer is null)
            {
                return new(ErrorCodes.CertificateNoPrivateKey, PemField, FieldErrorCodes.Required, "The PEM holds no private key.");
            }

            return DecodeKey(keyLabel!, keyDer, password, certificates[0], out key);
        }
        finally
        {
            if (keyDer is not null)
            {
                CryptographicOperations.ZeroMemory(keyDer);
            }
        }
    }

    private static CertificateRejection? DecodeKey(string label, byte[] der, string? password, X509Certificate2 first, out AsymmetricAlgorithm? key)
    {
        key = null;
        try
        {
            switch (label)
            {
                case "RSA PRIVATE KEY":
                    {
                        var rsa = RSA.Create();
                        key = rsa;
                        rsa.ImportRSAPrivateKey(der, out _);
                        return null;
                    }

                case "EC PRIVATE KEY":
                    {
                        var ec = ECDsa.Create();
                        key = ec;
                        ec.ImportECPrivateKey(der, out _);
                        return null;
                    }

                case "ENCRYPTED PRIVATE KEY":
                    return ImportEncryptedPkcs8(der, password, first, out key);

                default:
                    return ImportPkcs8(der, out key);
            }
        }
        catch (Exception e) when (e is CryptographicException or AsnContentException)
        {
            key?.Dispose();
            key = null;
            return Invalid(PemField, "The private key cannot be parsed.");
        }
    }

    private static CertificateRejection? ImportPkcs8(byte[] der, out AsymmetricAlgorithm? key)
    {
        key = null;
        var algorithm = Pkcs8Algorithm(der);
        switch (algorithm)
        {
            case RsaOid:
                {
                    var rsa = RSA.Create();
                    key = rsa;
                    rsa.ImportPkcs8PrivateKey(der, out _);
                    return null;
                }

            case EcOid:
                {
                    var ec = ECDsa.Create();
                    key = ec;
                    ec.ImportPkcs8PrivateKey(der, out _);
                    return null;
                }

            default:
                return KeyNotAllowed(PemField, AlgorithmName(algorithm));
        }
    }

    private static CertificateRejection? ImportEncryptedPkcs8(byte[] der, string? password, X509Certificate2? first, out AsymmetricAlgorithm? key)
    {
        key = null;
        if (string.IsNullOrEmpty(password))
        {
            return new(ErrorCodes.CertificateInvalid, PasswordField, FieldErrorCodes.Required, "The private key is encrypted; send its password.");
        }

        if (Pkcs8Iterations(der) is > MaxKdfIterations)
        {
            return Invalid(PemField, $"The private key's encryption uses more than {MaxKdfIterations} key-derivation iterations.");
        }

        // The algorithm is only known after decryption, so each supported one is tried.
        var rsa = RSA.Create();
        try
        {
            rsa.ImportEncryptedPkcs8PrivateKey(password, der, out _);
            key = rsa;
            return null;
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportEncryptedPkcs8PrivateKey(password, der, out _);
            key = ec;
            return null;
        }
        catch (CryptographicException)
        {
            ec.Dispose();
        }

        // Neither algorithm could read it: a leaf with another key type explains that better than a wrong password.
        if (first?.GetKeyAlgorithm() is { } leafAlgorithm && leafAlgorithm != RsaOid && leafAlgorithm != EcOid)
        {
            return KeyNotAllowed(PemField, AlgorithmName(leafAlgorithm));
        }

        return new(ErrorCodes.CertificateInvalid, PasswordField, FieldErrorCodes.InvalidFormat,
            "The private key cannot be decrypted with this password, or it is not an RSA or ECDSA key.");
    }

    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }
    private static string Pkcs8Algorithm(byte[] der)
    {
        var info = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
        info.ReadInteger();
        return info.ReadSequence().ReadObjectIdentifier();
    }

    // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }.
    // PBES2 nests PBKDF2-params { salt, iterationCount, ... }; PKCS#12 PBE params are { salt, iterations }.
    // Null when the structure is not one of these; the import then reports what is wrong.
    private static long? Pkcs8Iterations(byte[] der)
    {
        try
        {
            var algorithm = new AsnReader(der, AsnEncodingRules.BER).ReadSequence().ReadSequence();
            var oid = algorithm.ReadObjectIdentifier();
            var parameters = algorithm.ReadSequence();
            if (oid == Pbes2Oid)
            {
                var kdf = parameters.ReadSequence();
                if (kdf.ReadObjectIdentifier() != Pbkdf2Oid)
                {
                    return null;
                }

                parameters = kdf.ReadSequence();
            }

            parameters.ReadOctetString();
            return parameters.TryReadInt64(out var iterations) ? iterations : long.MaxValue;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    private static CertificateRejection? LoadPfx(string pfx, string? password, List<X509Certificate2> certificates, out AsymmetricAlgorithm? key)
    {
        key = null;
        var data = new byte[pfx.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64String(pfx.Trim(), data, out var length))
        {
            return Invalid(PfxField, "'pfx' is not valid base64.");
        }

        X509Certificate2Collection collection;
        try
        {
            collection = X509CertificateLoader.LoadPkcs12Collection(
                data.AsSpan(0, length), password, X509KeyStorageFlags.EphemeralKeySet | X509KeyStorageFlags.Exportable, PfxLimits);
        }
        catch (Pkcs12LoadLimitExceededException)
        {
            return Invalid(PfxField, $"The PKCS#12 file holds more than {MaxChainLength} certificates or more than one private key.");
        }
        catch (CryptographicException)
        {
            return new(ErrorCodes.CertificateInvalid, PfxField, FieldErrorCodes.InvalidFormat,
                "The PKCS#12 file cannot be read: it is damaged or the password is wrong.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(data);
        }

        certificates.AddRange(collection);
        var withKey = certificates.Where(c => c.HasPrivateKey).ToList();
        if (withKey.Count == 0)
        {
            return new(ErrorCodes.CertificateNoPrivateKey, PfxField, FieldErrorCodes.Required, "The PKCS#12 file holds no private key for its certificates.");
        }

        if (withKey.Count > 1)
        {
            return Invalid(PfxField, "The PKCS#12 file holds more than one certificate with a private key.");
        }

        try
        {
            key = withKey[0].GetKeyAlgorithm() switch
            {
                RsaOid => withKey[0].GetRSAPrivateKey(),
                EcOid => withKey[0].GetECDsaPrivateKey(),
                _ => null,
            };
        }
        catch (CryptographicException)
        {
            return Invalid(PfxField, "The private key in the PKCS#12 file cannot be read.");
        }

        return key is null ? KeyNotAllowed(PfxField, AlgorithmName(withKey[0].GetKeyAlgorithm())) : null;
    }

    private static CertificateRejection? Check(
        string source, List<X509Certificate2> certificates, AsymmetricAlgorithm key, DateTimeOffset now, Func<string, bool>? refusedWildcard,
        out ValidatedCertificate? validated)
    {
        validated = null;
        var keySpki = key.ExportSubjectPublicKeyInfo();
        var leaf = certificates.FirstOrDefault(c => HasPublicKey(c, keySpki));
        if (leaf is null)
        {
            return new(ErrorCodes.CertificateNoPrivateKey, source, FieldErrorCodes.Inconsistent,
                "The private key does not belong to any certificate supplied.");
        }

        var keyAlgorithm = leaf.GetKeyAlgorithm() == RsaOid ? "RSA" : "ECDSA";
        if (CheckKey(source, key) is { } weak)
        {
            return weak;
        }

        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
        if (now < notBefore)
        {
            return new(ErrorCodes.CertificateExpired, source, FieldErrorCodes.OutOfRange, $"The certificate is not valid before {notBefore:O}.");
        }

        if (now > notAfter)
        {
            return new(ErrorCodes.CertificateExpired, source, FieldErrorCodes.OutOfRange, $"The certificate expired at {notAfter:O}.");
        }

        List<string> hostNames;
        try
        {
            if (CheckUsage(source, leaf, keyAlgorithm == "RSA") is { } usage)
            {
                return usage;
            }

            hostNames = DnsNames(leaf);
        }
        catch (CryptographicException)
        {
            return Invalid(source, "An extension of the certificate cannot be parsed.");
        }

        if (hostNames.Count == 0)
        {
            return new(ErrorCodes.CertificateNoHostNames, source, FieldErrorCodes.Required,
                "The certificate has no DNS subject alternative name; its host names route connections to the tenant.");
        }

        if (refusedWildcard is not null && hostNames.FirstOrDefault(refusedWildcard) is { } refused)
        {
            return new(ErrorCodes.ValidationFailed, source, FieldErrorCodes.PublicSuffix,
                $"The subject alternative name '{Shorten(refused)}' is a wildcard directly under a public suffix: it would cover names anyone can register.");
        }

        if (hostNames.FirstOrDefault(n => !Names.IsValidHostName(n, allowWildcard: true)) is { } bad)
        {
            return Invalid(source, $"The subject alternative name '{Shorten(bad)}' is not a valid DNS host name.");
        }

        var chain = OrderChain(leaf, certificates);
        validated = new ValidatedCertificate
        {
            Subject = leaf.Subject,
            Issuer = leaf.Issuer,
            Thumbprint = Convert.ToHexStringLower(leaf.GetCertHash(HashAlgorithmName.SHA256)),
            HostNames = hostNames,
            NotBefore = notBefore,
            NotAfter = notAfter,
            KeyAlgorithm = keyAlgorithm,
            ChainPem = string.Concat(chain.Select(c => c.ExportCertificatePem() + "\n")),
            ChainLength = chain.Count,
            PrivateKeyPkcs8 = key.ExportPkcs8PrivateKey(),
        };
        return null;
    }

    private static bool HasPublicKey(X509Certificate2 certificate, byte[] keySpki)
    {
        try
        {
            using AsymmetricAlgorithm? publicKey = certificate.GetKeyAlgorithm() switch
            {
                RsaOid => certificate.GetRSAPublicKey(),
                EcOid => certificate.GetECDsaPublicKey(),
                _ => null,
            };
            return publicKey is not null && publicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(keySpki);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static CertificateRejection? CheckUsage(string source, X509Certificate2 leaf, bool isRsa)
    {
        foreach (var extension in leaf.Extensions)
        {
            switch (extension.Oid?.Value)
            {
                case KeyUsageOid:
                    {
                        var usages = (extension as X509KeyUsageExtension ?? new X509KeyUsageExtension(extension, extension.Critical)).KeyUsages;
                        var fit = usages.HasFlag(X509KeyUsageFlags.DigitalSignature) || (isRsa && usages.HasFlag(X509KeyUsageFlags.KeyEncipherment));
                        if (!fit)
                        {
                            return new(ErrorCodes.CertificateUsage, source, FieldErrorCodes.InvalidChoice,
                                isRsa
                                    ? "The certificate's key usage allows neither digitalSignature nor keyEncipherment, so a TLS server cannot use it."
                                    : "The certificate's key usage does not allow digitalSignature, so a TLS server cannot use it.");
                        }

                        break;
                    }

                case EnhancedKeyUsageOid:
                    {
                        var purposes = (extension as X509EnhancedKeyUsageExtension ?? new X509EnhancedKeyUsageExtension(extension, extension.Critical)).EnhancedKeyUsages;
                        if (!purposes.Cast<Oid>().Any(o => o.Value == ServerAuthOid))
                        {
                            return new(ErrorCodes.CertificateUsage, source, FieldErrorCodes.InvalidChoice,
                                $"The certificate's extended key usage does not include TLS server authentication ({ServerAuthOid}).");
                        }

                        break;
                    }
            }
        }

        return null;
    }

    private static List<string> DnsNames(X509Certificate2 leaf)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var extension in leaf.Extensions)
        {
            if (extension.Oid?.Value == SubjectAltNameOid)
            {
                var san = extension as X509SubjectAlternativeNameExtension ?? new X509SubjectAlternativeNameExtension(extension.RawData, extension.Critical);
                foreach (var name in san.EnumerateDnsNames())
                {
                    names.Add(name.ToLowerInvariant());
                }
            }
        }

        return [.. names];
    }

    // Leaf first, then each issuer found among the supplied certificates, then anything left in supplied order.
    private static List<X509Certificate2> OrderChain(X509Certificate2 leaf, List<X509Certificate2> certificates)
    {
        var ordered = new List<X509Certificate2> { leaf };
        var remaining = certificates.Where(c => !ReferenceEquals(c, leaf) && !c.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)).ToList();
        var current = leaf;
        while (!current.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData))
        {
            var issuer = remaining.FirstOrDefault(c => c.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData));
            if (issuer is null)
            {
                break;
            }

            ordered.Add(issuer);
            remaining.Remove(issuer);
            current = issuer;
        }

        ordered.AddRange(remaining);
        return ordered;
    }

    /// <summary>RSA keys of 2048..4096 bits and ECDSA keys on P-256 or P-384; anything else is refused.</summary>
    private static CertificateRejection? CheckKey(string source, AsymmetricAlgorithm key)
    {
        switch (key)
        {
            case RSA rsa when rsa.KeySize is < MinRsaBits or > MaxRsaBits:
                return KeyNotAllowed(source, $"RSA {rsa.KeySize}");
            case RSA:
                return null;
            case ECDsa ec:
                {
                    var curve = ec.ExportParameters(false).Curve;
                    var oid = curve.IsNamed ? curve.Oid.Value : null;
                    return oid is P256Oid or P384Oid
                        ? null
                        : KeyNotAllowed(source, $"ECDSA on {(curve.IsNamed ? curve.Oid.FriendlyName ?? oid : "explicit parameters")}");
                }

            default:
                return KeyNotAllowed(source, key.SignatureAlgorithm ?? "unknown");
        }
    }

    private static CertificateRejection KeyNotAllowed(string field, string what) =>
        new(ErrorCodes.CertificateKeyNotAllowed, field, FieldErrorCodes.InvalidChoice,
            $"The certificate's key ({Shorten(what)}) is not allowed; use RSA with {MinRsaBits} to {MaxRsaBits} bits or ECDSA on P-256 or P-384.");

    private static string AlgorithmName(string? oid) => oid switch
    {
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        RsaOid => "RSA",
        EcOid => "ECDSA",
        null => "unknown",
        _ => oid,
    };

    private static CertificateRejection Invalid(string field, string detail) =>
        new(ErrorCodes.CertificateInvalid, field, FieldErrorCodes.InvalidFormat, detail);

    private static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
