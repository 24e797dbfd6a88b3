using System.Runtime.InteropServices;
using System.Text;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Reads PEM certificates and private keys (PKCS#8 or traditional, unencrypted) into OpenSSL objects.</summary>
internal static unsafe class Pem
{
    private const string CertificateBegin = "-----BEGIN CERTIFICATE-----";

    public static List<X509Handle> ReadCertificates(string pem)
    {
        var expected = CountOccurrences(pem, CertificateBegin);
        var certificates = new List<X509Handle>(expected);
        var bytes = Encoding.ASCII.GetBytes(pem);
        fixed (byte* data = bytes)
        {
            OpenSslError.Clear();
            using var bio = OpenSslError.CheckHandle(NativeMethods.BIO_new_mem_buf(data, bytes.Length), "BIO_new_mem_buf");
            try
            {
                while (certificates.Count < expected)
                {
                    var certificate = NativeMethods.PEM_read_bio_X509(bio, nint.Zero, (nint)(delegate* unmanaged<byte*, int, int, nint, int>)&NoPassword, nint.Zero);
                    if (certificate.IsInvalid)
                    {
                        certificate.Dispose();
                        throw OpenSslError.Exception($"PEM_read_bio_X509 (certificate {certificates.Count + 1} of {expected})");
                    }

                    certificates.Add(certificate);
                }
            }
            catch
            {
                foreach (var certificate in certificates)
                {
                    certificate.Dispose();
                }

                throw;
            }
        }

        if (certificates.Count == 0)
        {
            throw new OpenSslException("the PEM text holds no certificate");
        }

        return certificates;
    }

    public static EvpPkeyHandle ReadPrivateKey(string pem)
    {
        if (pem.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw new OpenSslException("encrypted private keys are not accepted; upload the key unencrypted (it is stored encrypted)");
        }

        var bytes = Encoding.ASCII.GetBytes(pem);
        fixed (byte* data = bytes)
        {
            OpenSslError.Clear();
            using var bio = OpenSslError.CheckHandle(NativeMethods.BIO_new_mem_buf(data, bytes.Length), "BIO_new_mem_buf");
            return OpenSslError.CheckHandle(
                NativeMethods.PEM_read_bio_PrivateKey(bio, nint.Zero, (nint)(delegate* unmanaged<byte*, int, int, nint, int>)&NoPassword, nint.Zero),
                "PEM_read_bio_PrivateKey");
        }
    }

    public static byte[] ToDer(X509Handle certificate)
    {
        OpenSslError.Clear();
        var length = NativeMethods.i2d_X509(certificate, null);
        OpenSslError.ThrowIf(length <= 0, "i2d_X509");
        var der = new byte[length];
        fixed (byte* start = der)
        {
            var cursor = start;
            OpenSslError.ThrowIf(NativeMethods.i2d_X509(certificate, &cursor) != length, "i2d_X509");
        }

        return der;
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    // Without a callback OpenSSL would prompt on the terminal for a pass phrase.
    [UnmanagedCallersOnly]
    private static int NoPassword(byte* buffer, int size, int rwflag, nint userData) => -1;
}
