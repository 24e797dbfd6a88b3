using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Builds DTLS 1.2 server contexts: the listener's bootstrap context and one per tenant certificate.</summary>
internal static unsafe class SslContextFactory
{
    /// <summary>
    /// Forward-secret AEAD suites first, then ECDHE-PSK (CBC is the only ECDHE-PSK family OpenSSL has for 1.2) and
    /// plain PSK, including the CCM_8 suites CoAP devices are required to implement (RFC 7252).
    /// </summary>
    public const string DefaultCipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-CCM:"
        + "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-AES256-CBC-SHA384:"
        + "PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305:PSK-AES128-CCM8:PSK-AES128-CCM";

    /// <summary>OpenSSL cipher string for IANA suite names; unknown names are skipped, none left means the default.</summary>
    public static string CipherList(IReadOnlyList<string> ianaNames)
    {
        if (ianaNames.Count == 0)
        {
            return DefaultCipherList;
        }

        var names = new List<string>();
        foreach (var iana in ianaNames)
        {
            var name = NativeMethods.OPENSSL_cipher_name(iana);
            var openSsl = name == nint.Zero ? null : Marshal.PtrToStringUTF8(name);
            if (!string.IsNullOrEmpty(openSsl) && openSsl != "(NONE)")
            {
                names.Add(openSsl);
            }
        }

        return names.Count == 0 ? DefaultCipherList : string.Join(':', names);
    }

    /// <summary>The context every listener SSL object starts from: no certificate, all callbacks, every suite.</summary>
    public static SslContextHandle CreateBootstrapContext()
    {
        var context = CreateBase(DefaultCipherList);
        try
        {
            NativeMethods.SSL_CTX_callback_ctrl(context, NativeMethods.SslCtrlSetTlsextServernameCb, SslCallbacks.ServerNamePointer);
            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public static SslContextHandle CreateTenantContext(string pem, string clientCaPem, int verifyMode, string cipherList, byte[] sessionIdContext, out List<string> dnsNames)
    {
        var context = CreateBase(cipherList);
        try
        {
            var chain = Pem.ReadCertificates(pem);
            try
            {
                OpenSslError.Clear();
                OpenSslError.ThrowIf(NativeMethods.SSL_CTX_use_certificate(context, chain[0]) != 1, "SSL_CTX_use_certificate");
                foreach (var intermediate in chain.Skip(1))
                {
                    // SSL_CTX_add1_chain_cert: larg 1 takes its own reference.
                    OpenSslError.ThrowIf(NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlChainCert, 1, intermediate) != 1, "SSL_CTX_add1_chain_cert");
                }

                dnsNames = DnsNames(Pem.ToDer(chain[0]));
            }
            finally
            {
                chain.ForEach(c => c.Dispose());
            }

            using (var key = Pem.ReadPrivateKey(pem))
            {
                OpenSslError.Clear();
                OpenSslError.ThrowIf(NativeMethods.SSL_CTX_use_PrivateKey(context, key) != 1, "SSL_CTX_use_PrivateKey");
                OpenSslError.ThrowIf(NativeMethods.SSL_CTX_check_private_key(context) != 1, "SSL_CTX_check_private_key");
            }

            if (!string.IsNullOrWhiteSpace(clientCaPem))
            {
                var store = NativeMethods.SSL_CTX_get_cert_store(context);
                foreach (var ca in Pem.ReadCertificates(clientCaPem))
                {
                    using (ca)
                    {
                        OpenSslError.Clear();
                        OpenSslError.ThrowIf(NativeMethods.X509_STORE_add_cert(store, ca) != 1, "X509_STORE_add_cert");
                        OpenSslError.ThrowIf(NativeMethods.SSL_CTX_add_client_CA(context, ca) != 1, "SSL_CTX_add_client_CA");
                    }
                }
            }

            NativeMethods.SSL_CTX_set_verify(context, verifyMode, nint.Zero);
            fixed (byte* sid = sessionIdContext)
            {
                OpenSslError.ThrowIf(NativeMethods.SSL_CTX_set_session_id_context(context, sid, (uint)Math.Min(sessionIdContext.Length, 32)) != 1, "SSL_CTX_set_session_id_context");
            }

            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public static SslContextHandle CreateClientContext(string cipherList)
    {
        OpenSslError.Clear();
        var context = OpenSslError.CheckHandle(NativeMethods.SSL_CTX_new(NativeMethods.DTLS_client_method()), "SSL_CTX_new");
        try
        {
            SetProtocol(context);
            // Without a fixed MTU OpenSSL asks the BIO, gets nothing and falls back to a minimum that fragments the ClientHello.
            NativeMethods.SSL_CTX_set_options(context, NativeMethods.SslOpNoQueryMtu);
            OpenSslError.ThrowIf(NativeMethods.SSL_CTX_set_cipher_list(context, cipherList) != 1, "SSL_CTX_set_cipher_list");
            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static SslContextHandle CreateBase(string cipherList)
    {
        OpenSslError.Clear();
        var context = OpenSslError.CheckHandle(NativeMethods.SSL_CTX_new(NativeMethods.DTLS_server_method()), "SSL_CTX_new");
        try
        {
            SetProtocol(context);
            // Resumption is off: a session cache or ticket would let a session cross tenants or outlive a revoked key.
            NativeMethods.SSL_CTX_set_options(context, NativeMethods.SslOpNoQueryMtu | NativeMethods.SslOpCookieExchange | NativeMethods.SslOpNoTicket
                | NativeMethods.SslOpNoRenegotiation | NativeMethods.SslOpCipherServerPreference);
            NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlSetSessCacheMode, 0, nint.Zero);
            // Record buffers (about 35 KiB) only while they hold something; SSL objects take the mode from the
            // bootstrap context at SSL_new. For DTLS OpenSSL 3.0 still keeps them after each read, so sessions also
            // free them explicitly when idle (DtlsSession.ReleaseBuffersLocked).
            NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlMode, NativeMethods.SslModeReleaseBuffers, nint.Zero);
            OpenSslError.ThrowIf(NativeMethods.SSL_CTX_set_cipher_list(context, cipherList) != 1, "SSL_CTX_set_cipher_list");
            NativeMethods.SSL_CTX_set_cookie_generate_cb(context, SslCallbacks.GenerateCookiePointer);
            NativeMethods.SSL_CTX_set_cookie_verify_cb(context, SslCallbacks.VerifyCookiePointer);
            NativeMethods.SSL_CTX_set_psk_server_callback(context, SslCallbacks.PskPointer);
            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static void SetProtocol(SslContextHandle context)
    {
        OpenSslError.ThrowIf(NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlSetMinProtoVersion, NativeMethods.Dtls12Version, nint.Zero) != 1, "SSL_CTX_set_min_proto_version");
        OpenSslError.ThrowIf(NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlSetMaxProtoVersion, NativeMethods.Dtls12Version, nint.Zero) != 1, "SSL_CTX_set_max_proto_version");
    }

    private static List<string> DnsNames(byte[] der)
    {
        using var certificate = X509CertificateLoader.LoadCertificate(der);
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
            }
        }

        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        return names;
    }
}
