using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using Platform.Contracts.Problems;
using Platform.Contracts.RawKeys;

namespace Platform.Silo.RawKeys;

/// <summary>A raw public key that passed every check: its DER SubjectPublicKeyInfo exactly as sent, fingerprint and algorithm.</summary>
[GenerateSerializer, Immutable, Alias("platform.raw-keys.parsed")]
internal sealed record ParsedRawPublicKey(
    [property: Id(0)] byte[] SubjectPublicKeyInfo,
    [property: Id(1)] string Fingerprint,
    [property: Id(2)] string Algorithm);

/// <summary>Why a raw public key was refused: the problem code, the field code and a message that never quotes the input.</summary>
internal sealed record RawPublicKeyRejection(string Code, string FieldCode, string Detail);

/// <summary>
/// Reads a client raw public key (RFC 7250): a PEM <c>PUBLIC KEY</c> block or base64 DER SubjectPublicKeyInfo. The DER
/// must be strict (one encoding per key, so one fingerprint per key) with nothing after it; the key must be EC on P-256 or
/// P-384 with a point on the curve, Ed25519 with a point on the curve that is not of small order, or RSA of 2048 to 8192
/// bits with an odd exponent of at least 3. Private keys, in any of their usual forms, are recognised and refused
/// without being kept; no message quotes the input.
/// </summary>
internal static class RawPublicKeyParser
{
    /// <summary>Longest accepted input in characters (a PEM RSA-8192 public key is about 1.5 KiB).</summary>
    public const int MaxKeyLength = 16 * 1024;
    public const int MaxNameLength = 64;
    public const int MinRsaBits = 2048;
    public const int MaxRsaBits = 8192;

    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";
    private const string P256Oid = "1.2.840.10045.3.1.7";
    private const string P384Oid = "1.3.132.0.34";

    private static readonly Dictionary<string, string> RefusedAlgorithms = new(StringComparer.Ordinal)
    {
        ["1.3.101.113"] = "Ed448",
        ["1.3.101.110"] = "X25519",
        ["1.3.101.111"] = "X448",
        ["1.2.840.10040.4.1"] = "DSA",
        ["1.2.840.113549.1.1.10"] = "RSASSA-PSS",
        ["1.2.840.10046.2.1"] = "Diffie-Hellman",
    };

    private static readonly Dictionary<string, string> RefusedCurves = new(StringComparer.Ordinal)
    {
        ["1.3.132.0.35"] = "P-521",
        ["1.3.132.0.10"] = "secp256k1",
        ["1.2.840.10045.3.1.1"] = "P-192",
        ["1.3.132.0.33"] = "P-224",
    };

    /// <summary>Checks the optional name: null or 1..64 characters without control characters.</summary>
    public static FieldError? ValidateName(string? name)
    {
        if (name is null)
        {
            return null;
        }

        if (name.Length == 0 || string.IsNullOrWhiteSpace(name))
        {
            return new FieldError("name", FieldErrorCodes.Required, "name is omitted or holds at least one visible character.");
        }

        if (name.Length > MaxNameLength)
        {
            return new FieldError("name", FieldErrorCodes.TooLong, $"name is at most {MaxNameLength} characters.");
        }

        return name.Any(char.IsControl) || !IsWellFormed(name)
            ? new FieldError("name", FieldErrorCodes.InvalidFormat, "name may not hold control characters or broken surrogate pairs.")
            : null;
    }

    /// <summary>Parses and checks <paramref name="key"/>; exactly one of the results is non-null.</summary>
    public static (ParsedRawPublicKey? Key, RawPublicKeyRejection? Rejection) Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length > MaxKeyLength)
        {
            return Reject(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.TooLong, $"The key is at most {MaxKeyLength} characters.");
        }

        var text = key.Trim();
        if (text.Contains("PRIVATE KEY", StringComparison.OrdinalIgnoreCase))
        {
            return PrivateKey();
        }

        byte[] der;
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            if (Pem(text, out der) is { } pemRejection)
            {
                return (null, pemRejection);
            }
        }
        else
        {
            try
            {
                der = Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                return Invalid("The key is neither a PEM PUBLIC KEY block nor base64 DER SubjectPublicKeyInfo.");
            }
        }

        return ParseDer(der);
    }

    private static RawPublicKeyRejection? Pem(string text, out byte[] der)
    {
        der = [];
        if (!PemEncoding.TryFind(text, out var fields))
        {
            return new(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.InvalidFormat, "The PEM block is not well formed.");
        }

        if (text.AsSpan(fields.Location.End).Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return new(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.InvalidFormat, "Send exactly one PEM block.");
        }

        var label = text[fields.Label];
        if (label != "PUBLIC KEY")
        {
            var hint = label switch
            {
                "CERTIFICATE" => " Send the certificate's public key (openssl x509 -pubkey -noout), not the certificate.",
                "RSA PUBLIC KEY" => " Send the SubjectPublicKeyInfo form (openssl rsa -RSAPublicKey_in -pubout), not PKCS#1.",
                _ => "",
            };
            return new(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.InvalidFormat,
                $"The PEM block must be labelled PUBLIC KEY.{hint}");
        }

        der = Convert.FromBase64String(text[fields.Base64Data]);
        return null;
    }

    private static (ParsedRawPublicKey?, RawPublicKeyRejection?) ParseDer(byte[] der)
    {
        if (der.Length == 0)
        {
            return Invalid("The key is empty.");
        }

        string algorithmOid;
        ReadOnlyMemory<byte>? parameters;
        byte[] publicKey;
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER);
            var spki = outer.ReadSequence();
            AtEnd(outer);
            if (!spki.HasData)
            {
                return Invalid("The DER is not a SubjectPublicKeyInfo.");
            }

            var first = spki.PeekTag();
            if (first.HasSameClassAndValue(Asn1Tag.Integer))
            {
                // PKCS#8 PrivateKeyInfo, PKCS#1 RSAPrivateKey and SEC 1 ECPrivateKey all start with a version integer.
                return PrivateKey();
            }

            var algorithm = spki.ReadSequence();
            if (spki.HasData && spki.PeekTag().HasSameClassAndValue(Asn1Tag.PrimitiveOctetString))
            {
                // EncryptedPrivateKeyInfo: an algorithm, then the encrypted key as an octet string.
                return PrivateKey();
            }

            algorithmOid = algorithm.ReadObjectIdentifier();
            parameters = null;
            if (algorithm.HasData)
            {
                parameters = algorithm.ReadEncodedValue();
            }

            AtEnd(algorithm);
            publicKey = spki.ReadBitString(out var unusedBits);
            AtEnd(spki);
            if (unusedBits != 0)
            {
                return Invalid("The public key bit string has unused bits.");
            }
        }
        catch (AsnContentException)
        {
            return Invalid("The DER is not a strictly encoded SubjectPublicKeyInfo.");
        }

        (string? Algorithm, RawPublicKeyRejection? Rejection) checkedAlgorithm = algorithmOid switch
        {
            EcPublicKeyOid => CheckEc(der, parameters),
            RsaEncryptionOid => CheckRsa(der, publicKey, parameters),
            Ed25519Oid => CheckEd25519(publicKey, parameters),
            _ when RefusedAlgorithms.TryGetValue(algorithmOid, out var refused) => NotAllowed($"{refused} keys are not accepted."),
            _ => NotAllowed($"The key algorithm {algorithmOid} is not accepted."),
        };
        if (checkedAlgorithm.Rejection is { } rejection)
        {
            return (null, rejection);
        }

        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(der));
        return (new ParsedRawPublicKey(der, fingerprint, checkedAlgorithm.Algorithm!), null);
    }

    private static (string? Algorithm, RawPublicKeyRejection? Rejection) CheckEc(byte[] der, ReadOnlyMemory<byte>? parameters)
    {
        if (parameters is not { } encoded)
        {
            return NotAllowed("An EC key must name its curve.");
        }

        string curve;
        try
        {
            var reader = new AsnReader(encoded, AsnEncodingRules.DER);
            if (!reader.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
            {
                return NotAllowed("EC keys with explicit curve parameters are not accepted; use a named curve (P-256 or P-384).");
            }

            curve = reader.ReadObjectIdentifier();
        }
        catch (AsnContentException)
        {
            return InvalidAlgorithm("The EC curve parameter is not well formed.");
        }

        var algorithm = curve switch
        {
            P256Oid => RawPublicKeyAlgorithms.EcP256,
            P384Oid => RawPublicKeyAlgorithms.EcP384,
            _ => null,
        };
        if (algorithm is null)
        {
            return NotAllowed(RefusedCurves.TryGetValue(curve, out var name)
                ? $"EC keys on {name} are not accepted; use P-256 or P-384."
                : $"EC keys on curve {curve} are not accepted; use P-256 or P-384.");
        }

        try
        {
            using var ec = ECDsa.Create();
            ec.ImportSubjectPublicKeyInfo(der, out var read);
            // Importing checks that the point lies on the curve; validating the parameters checks it once more.
            var exported = ec.ExportParameters(false);
            exported.Validate();
            return read == der.Length ? (algorithm, null) : InvalidAlgorithm("The EC key does not decode.");
        }
        catch (CryptographicException)
        {
            return InvalidAlgorithm("The EC public point is not a point on the curve, or is compressed (send the uncompressed form).");
        }
    }

    private static (string? Algorithm, RawPublicKeyRejection? Rejection) CheckRsa(byte[] der, byte[] publicKey, ReadOnlyMemory<byte>? parameters)
    {
        if (parameters is not { } encoded || !encoded.Span.SequenceEqual(new byte[] { 0x05, 0x00 }))
        {
            return InvalidAlgorithm("An rsaEncryption key must carry NULL parameters.");
        }

        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, read here so that a weak exponent is
        // named as such whether or not the crypto library would import it.
        BigInteger modulus;
        BigInteger exponent;
        try
        {
            var outer = new AsnReader(publicKey, AsnEncodingRules.DER);
            var sequence = outer.ReadSequence();
            AtEnd(outer);
            modulus = sequence.ReadInteger();
            exponent = sequence.ReadInteger();
            AtEnd(sequence);
        }
        catch (AsnContentException)
        {
            return InvalidAlgorithm("The RSA public key is not a strictly encoded RSAPublicKey.");
        }

        if (modulus.Sign <= 0 || exponent.Sign <= 0)
        {
            return InvalidAlgorithm("The RSA modulus and exponent must be positive.");
        }

        var bits = (int)modulus.GetBitLength();
        if (bits is < MinRsaBits or > MaxRsaBits)
        {
            return NotAllowed($"RSA keys of {bits} bits are not accepted; use {MinRsaBits} to {MaxRsaBits} bits.");
        }

        if (modulus.IsEven)
        {
            return NotAllowed("The RSA modulus is even.");
        }

        if (exponent < 3 || exponent.IsEven || exponent >= modulus)
        {
            return NotAllowed("The RSA public exponent must be odd, at least 3 and below the modulus.");
        }

        try
        {
            using var rsa = RSA.Create();
            rsa.ImportSubjectPublicKeyInfo(der, out var read);
            return read == der.Length ? (RawPublicKeyAlgorithms.Rsa(bits), null) : InvalidAlgorithm("The RSA key does not decode.");
        }
        catch (CryptographicException)
        {
            return InvalidAlgorithm("The RSA key does not decode.");
        }
    }

    private static (string? Algorithm, RawPublicKeyRejection? Rejection) CheckEd25519(byte[] publicKey, ReadOnlyMemory<byte>? parameters)
    {
        if (parameters is not null)
        {
            return InvalidAlgorithm("An Ed25519 key carries no algorithm parameters (RFC 8410).");
        }

        if (publicKey.Length != 32)
        {
            return InvalidAlgorithm("An Ed25519 public key is 32 bytes.");
        }

        return Ed25519Point.Check(publicKey) switch
        {
            Ed25519Point.Verdict.Valid => (RawPublicKeyAlgorithms.Ed25519, null),
            Ed25519Point.Verdict.SmallOrder => NotAllowed("The Ed25519 key is a point of small order, which any signature matches."),
            _ => InvalidAlgorithm("The Ed25519 key is not a point on the curve."),
        };
    }

    private static void AtEnd(AsnReader reader)
    {
        if (reader.HasData)
        {
            throw new AsnContentException("Data follows the end of the structure.");
        }
    }

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static (ParsedRawPublicKey?, RawPublicKeyRejection?) Reject(string code, string fieldCode, string detail) =>
        (null, new RawPublicKeyRejection(code, fieldCode, detail));

    private static (ParsedRawPublicKey?, RawPublicKeyRejection?) Invalid(string detail) =>
        Reject(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.InvalidFormat, detail);

    private static (ParsedRawPublicKey?, RawPublicKeyRejection?) PrivateKey() =>
        Reject(ErrorCodes.PrivateKeyRefused, FieldErrorCodes.InvalidFormat,
            "This is a private key. Send only the public key (openssl pkey -pubout); the private key was not stored.");

    private static (string?, RawPublicKeyRejection?) InvalidAlgorithm(string detail) =>
        (null, new RawPublicKeyRejection(ErrorCodes.RawPublicKeyInvalid, FieldErrorCodes.InvalidFormat, detail));

    private static (string?, RawPublicKeyRejection?) NotAllowed(string detail) =>
        (null, new RawPublicKeyRejection(ErrorCodes.RawPublicKeyNotAllowed, FieldErrorCodes.InvalidChoice, detail));
}

/// <summary>
/// Decoding of an Ed25519 public key (RFC 8032 section 5.1.3) to tell whether it is a point on the curve, and whether that
/// point has small order (one of the eight points of the torsion subgroup, against which signatures prove nothing).
/// </summary>
internal static class Ed25519Point
{
    public enum Verdict
    {
        Valid,
        NotOnCurve,
        SmallOrder,
    }

    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger D = Mod(-121665 * Inverse(121666));
    private static readonly BigInteger SqrtMinusOne = BigInteger.ModPow(2, (P - 1) / 4, P);

    public static Verdict Check(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != 32)
        {
            return Verdict.NotOnCurve;
        }

        Span<byte> yBytes = stackalloc byte[32];
        encoded.CopyTo(yBytes);
        var sign = (yBytes[31] & 0x80) != 0;
        yBytes[31] &= 0x7f;
        var y = new BigInteger(yBytes, isUnsigned: true, isBigEndian: false);
        if (y >= P)
        {
            return Verdict.NotOnCurve;
        }

        var y2 = y * y % P;
        var u = Mod(y2 - 1);
        var v = Mod((D * y2) + 1);
        var x2 = u * Inverse(v) % P;
        BigInteger x;
        if (x2.IsZero)
        {
            if (sign)
            {
                return Verdict.NotOnCurve;
            }

            x = BigInteger.Zero;
        }
        else
        {
            x = BigInteger.ModPow(x2, (P + 3) / 8, P);
            if (x * x % P != x2)
            {
                x = x * SqrtMinusOne % P;
            }

            if (x * x % P != x2)
            {
                return Verdict.NotOnCurve;
            }
        }

        // A point of small order becomes the neutral element (0, 1) after doubling it three times.
        var (px, py) = (x, y);
        for (var i = 0; i < 3; i++)
        {
            (px, py) = Double(px, py);
        }

        return px.IsZero && py.IsOne ? Verdict.SmallOrder : Verdict.Valid;
    }

    private static (BigInteger X, BigInteger Y) Double(BigInteger x, BigInteger y)
    {
        // Twisted Edwards addition with a = -1: x3 = 2xy / (1 + d x^2 y^2), y3 = (y^2 + x^2) / (1 - d x^2 y^2).
        var xy = x * y % P;
        var dxy2 = D * xy % P * xy % P;
        var x3 = 2 * xy % P * Inverse(Mod(1 + dxy2)) % P;
        var y3 = Mod((y * y) + (x * x)) * Inverse(Mod(1 - dxy2)) % P;
        return (x3, y3);
    }

    private static BigInteger Mod(BigInteger value)
    {
        var r = value % P;
        return r.Sign < 0 ? r + P : r;
    }

    private static BigInteger Inverse(BigInteger value) => BigInteger.ModPow(Mod(value), P - 2, P);
}
