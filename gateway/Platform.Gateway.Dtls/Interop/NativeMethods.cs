using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>
/// Bindings to the system OpenSSL 3 (libssl.so.3, libcrypto.so.3). Macros of the C API appear as the
/// SSL_ctrl / SSL_CTX_ctrl calls they expand to, with their control numbers.
/// </summary>
internal static unsafe partial class NativeMethods
{
    internal const string Ssl = "libssl.so.3";
    internal const string Crypto = "libcrypto.so.3";

    internal const int SslErrorNone = 0;
    internal const int SslErrorSsl = 1;
    internal const int SslErrorWantRead = 2;
    internal const int SslErrorWantWrite = 3;
    internal const int SslErrorSyscall = 5;
    internal const int SslErrorZeroReturn = 6;

    internal const int SslCtrlGetSessionReused = 8;
    internal const int SslCtrlSetMtu = 17;
    internal const int SslCtrlMode = 33;
    internal const int SslCtrlSetSessCacheMode = 44;
    internal const int SslCtrlSetTlsextServernameCb = 53;
    internal const int SslCtrlSetTlsextHostname = 55;
    internal const int DtlsCtrlGetTimeout = 73;
    internal const int DtlsCtrlHandleTimeout = 74;
    internal const int SslCtrlChainCert = 89;
    internal const int SslCtrlSetGroupsList = 92;
    internal const int SslCtrlSetMinProtoVersion = 123;
    internal const int SslCtrlSetMaxProtoVersion = 124;

    internal const int Dtls12Version = 0xFEFD;

    // OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS.
    private const ulong InitOptions = 0x0008_0000UL | 0x0020_0000UL | 0x0000_0002UL;

    /// <summary>
    /// OpenSSL is initialised before any binding here is used, without its exit handler: the first initialisation in a
    /// process decides whether OpenSSL registers <c>OPENSSL_cleanup</c> with <c>atexit</c>, and that handler frees
    /// OpenSSL's global state (error tables, locks, providers) at <c>exit()</c> while the runtime's threads may still
    /// be in OpenSSL calls (a DTLS step on a worker, a handshake racing the stop), which aborts the process in glibc's
    /// <c>free()</c>. .NET's own cryptography initialises the same way; whichever of the two comes first, no handler
    /// is registered.
    /// </summary>
    static NativeMethods()
    {
        if (OPENSSL_init_ssl(InitOptions, nint.Zero) != 1)
        {
            throw new InvalidOperationException("OpenSSL could not be initialised (OPENSSL_init_ssl)");
        }
    }

    [LibraryImport(Ssl)]
    private static partial int OPENSSL_init_ssl(ulong options, nint settings);

    internal const nint SslModeReleaseBuffers = 0x10;

    internal const ulong SslOpNoQueryMtu = 1UL << 12;
    internal const ulong SslOpCookieExchange = 1UL << 13;
    internal const ulong SslOpNoTicket = 1UL << 14;
    internal const ulong SslOpCipherServerPreference = 1UL << 22;
    internal const ulong SslOpNoRenegotiation = 1UL << 30;

    internal const int SslVerifyNone = 0;
    internal const int SslVerifyPeer = 1;
    internal const int SslVerifyFailIfNoPeerCert = 2;

    internal const int TlsextErrOk = 0;
    internal const int TlsextErrAlertFatal = 2;

    internal const int BioTypeSourceSink = 0x0400;
    internal const int BioFlagsRead = 0x01;
    internal const int BioFlagsWrite = 0x02;
    internal const int BioFlagsIoSpecial = 0x04;
    internal const int BioFlagsShouldRetry = 0x08;
    internal const int BioCtrlReset = 1;
    internal const int BioCtrlPending = 10;
    internal const int BioCtrlFlush = 11;
    internal const int BioCtrlDgramGetMtuOverhead = 49;
    internal const int BioCSetBufMemEofReturn = 130;

    // ---- libcrypto: errors ----
    [LibraryImport(Crypto)]
    internal static partial ulong ERR_get_error();

    [LibraryImport(Crypto)]
    internal static partial void ERR_clear_error();

    [LibraryImport(Crypto)]
    internal static partial void ERR_error_string_n(ulong e, byte* buf, nuint len);

    // ---- libcrypto: BIO ----
    [LibraryImport(Crypto)]
    internal static partial int BIO_get_new_index();

    [LibraryImport(Crypto, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint BIO_meth_new(int type, string name);

    [LibraryImport(Crypto)]
    internal static partial int BIO_meth_set_write(nint method, delegate* unmanaged<nint, byte*, int, int> write);

    [LibraryImport(Crypto)]
    internal static partial int BIO_meth_set_read(nint method, delegate* unmanaged<nint, byte*, int, int> read);

    [LibraryImport(Crypto)]
    internal static partial int BIO_meth_set_ctrl(nint method, delegate* unmanaged<nint, int, nint, nint, nint> ctrl);

    [LibraryImport(Crypto)]
    internal static partial int BIO_meth_set_create(nint method, delegate* unmanaged<nint, int> create);

    [LibraryImport(Crypto)]
    internal static partial BioHandle BIO_new(nint method);

    [LibraryImport(Crypto)]
    internal static partial int BIO_free(nint bio);

    [LibraryImport(Crypto)]
    internal static partial int BIO_up_ref(BioHandle bio);

    [LibraryImport(Crypto)]
    internal static partial void BIO_set_data(BioHandle bio, nint data);

    [LibraryImport(Crypto)]
    internal static partial nint BIO_get_data(nint bio);

    [LibraryImport(Crypto)]
    internal static partial void BIO_set_init(nint bio, int init);

    [LibraryImport(Crypto)]
    internal static partial void BIO_set_flags(nint bio, int flags);

    [LibraryImport(Crypto)]
    internal static partial void BIO_clear_flags(nint bio, int flags);

    [LibraryImport(Crypto)]
    internal static partial BioHandle BIO_new_mem_buf(byte* buf, int len);

    [LibraryImport(Crypto)]
    internal static partial BioHandle BIO_new_dgram(int fd, int closeFlag);

    [LibraryImport(Crypto)]
    internal static partial nint BIO_s_mem();

    [LibraryImport(Crypto)]
    internal static partial int BIO_read(BioHandle bio, byte* data, int length);

    [LibraryImport(Crypto)]
    internal static partial int BIO_write(BioHandle bio, byte* data, int length);

    [LibraryImport(Crypto)]
    internal static partial nint BIO_ctrl(BioHandle bio, int cmd, nint larg, nint parg);

    [LibraryImport(Crypto)]
    internal static partial BioAddrHandle BIO_ADDR_new();

    [LibraryImport(Crypto)]
    internal static partial void BIO_ADDR_free(nint addr);

    // ---- libcrypto: keys and certificates ----
    [LibraryImport(Crypto)]
    internal static partial X509Handle PEM_read_bio_X509(BioHandle bio, nint x, nint cb, nint u);

    [LibraryImport(Crypto)]
    internal static partial EvpPkeyHandle PEM_read_bio_PrivateKey(BioHandle bio, nint x, nint cb, nint u);

    [LibraryImport(Crypto)]
    internal static partial void X509_free(nint x509);

    [LibraryImport(Crypto)]
    internal static partial void EVP_PKEY_free(nint key);

    [LibraryImport(Crypto)]
    internal static partial int i2d_X509(nint x509, byte** output);

    [LibraryImport(Crypto)]
    internal static partial int i2d_X509(X509Handle x509, byte** output);

    [LibraryImport(Crypto)]
    internal static partial int X509_STORE_add_cert(nint store, X509Handle x509);

    // ---- libssl: contexts ----
    [LibraryImport(Ssl)]
    internal static partial nint DTLS_server_method();

    [LibraryImport(Ssl)]
    internal static partial nint DTLS_client_method();

    [LibraryImport(Ssl)]
    internal static partial SslContextHandle SSL_CTX_new(nint method);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_free(nint ctx);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_CTX_ctrl(SslContextHandle ctx, int cmd, nint larg, nint parg);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_CTX_ctrl(SslContextHandle ctx, int cmd, nint larg, X509Handle parg);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_CTX_callback_ctrl(SslContextHandle ctx, int cmd, nint callback);

    [LibraryImport(Ssl)]
    internal static partial ulong SSL_CTX_set_options(SslContextHandle ctx, ulong options);

    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SSL_CTX_set_cipher_list(SslContextHandle ctx, string list);

    [LibraryImport(Ssl)]
    internal static partial int SSL_CTX_use_certificate(SslContextHandle ctx, X509Handle x509);

    [LibraryImport(Ssl)]
    internal static partial int SSL_CTX_use_PrivateKey(SslContextHandle ctx, EvpPkeyHandle key);

    [LibraryImport(Ssl)]
    internal static partial int SSL_CTX_check_private_key(SslContextHandle ctx);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_CTX_get_cert_store(SslContextHandle ctx);

    [LibraryImport(Ssl)]
    internal static partial int SSL_CTX_add_client_CA(SslContextHandle ctx, X509Handle x509);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_set_verify(SslContextHandle ctx, int mode, nint callback);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_set_cookie_generate_cb(SslContextHandle ctx, delegate* unmanaged<nint, byte*, uint*, int> callback);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_set_cookie_verify_cb(SslContextHandle ctx, delegate* unmanaged<nint, byte*, uint, int> callback);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_set_psk_server_callback(SslContextHandle ctx, delegate* unmanaged<nint, byte*, byte*, uint, uint> callback);

    [LibraryImport(Ssl)]
    internal static partial void SSL_CTX_set_psk_client_callback(SslContextHandle ctx, delegate* unmanaged<nint, byte*, byte*, uint, byte*, uint, uint> callback);

    [LibraryImport(Ssl)]
    internal static partial int SSL_CTX_set_session_id_context(SslContextHandle ctx, byte* sidCtx, uint length);

    // ---- libssl: connections ----
    [LibraryImport(Ssl)]
    internal static partial SslHandle SSL_new(SslContextHandle ctx);

    [LibraryImport(Ssl)]
    internal static partial void SSL_free(nint ssl);

    [LibraryImport(Ssl)]
    internal static partial void SSL_set_bio(SslHandle ssl, nint rbio, nint wbio);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_rbio(nint ssl);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_ctrl(SslHandle ssl, int cmd, nint larg, nint parg);

    /// <summary>Frees the record layer's read and write buffers; 0 (nothing freed) while a record is pending in either.</summary>
    [LibraryImport(Ssl)]
    internal static partial int SSL_free_buffers(SslHandle ssl);

    /// <summary>Allocates the record layer's read and write buffers where they are missing; 1 on success.</summary>
    [LibraryImport(Ssl)]
    internal static partial int SSL_alloc_buffers(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial ulong SSL_set_options(SslHandle ssl, ulong options);

    [LibraryImport(Ssl)]
    internal static partial void SSL_set_accept_state(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial void SSL_set_connect_state(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_do_handshake(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_read(SslHandle ssl, byte* buf, int num);

    [LibraryImport(Ssl)]
    internal static partial int SSL_write(SslHandle ssl, byte* buf, int num);

    [LibraryImport(Ssl)]
    internal static partial int SSL_shutdown(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_get_error(SslHandle ssl, int ret);

    [LibraryImport(Ssl)]
    internal static partial int SSL_is_init_finished(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_clear(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_set_session(SslHandle ssl, nint session);

    [LibraryImport(Ssl)]
    internal static partial int DTLSv1_listen(SslHandle ssl, BioAddrHandle client);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_servername(nint ssl, int type);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_set_SSL_CTX(nint ssl, SslContextHandle ctx);

    [LibraryImport(Ssl)]
    internal static partial void SSL_set_verify(nint ssl, int mode, nint callback);

    [LibraryImport(Ssl)]
    internal static partial X509Handle SSL_get1_peer_certificate(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_verify_result(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_current_cipher(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_CIPHER_get_name(nint cipher);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_version(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_psk_identity(SslHandle ssl);

    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SSL_set_cipher_list(nint ssl, string list);

    [LibraryImport(Ssl)]
    internal static partial nuint DTLS_get_data_mtu(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial int SSL_get_shutdown(SslHandle ssl);

    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint OPENSSL_cipher_name(string standardName);

    [LibraryImport(Ssl)]
    internal static partial int SSL_use_certificate(SslHandle ssl, X509Handle x509);

    [LibraryImport(Ssl)]
    internal static partial int SSL_use_PrivateKey(SslHandle ssl, EvpPkeyHandle key);

    [LibraryImport(Ssl)]
    internal static partial void SSL_set_psk_client_callback(SslHandle ssl, delegate* unmanaged<nint, byte*, byte*, uint, byte*, uint, uint> callback);

    // ---- record protection handed over after the handshake (DtlsSession.Offload) ----
    [LibraryImport(Ssl)]
    internal static partial nint SSL_get_session(SslHandle ssl);

    [LibraryImport(Ssl)]
    internal static partial nuint SSL_SESSION_get_master_key(nint session, byte* output, nuint length);

    [LibraryImport(Ssl)]
    internal static partial nuint SSL_get_client_random(SslHandle ssl, byte* output, nuint length);

    [LibraryImport(Ssl)]
    internal static partial nuint SSL_get_server_random(SslHandle ssl, byte* output, nuint length);
}
