using System.Text;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests.Offload;

/// <summary>
/// Sessions whose record protection the listener takes over from OpenSSL after the handshake, against OpenSSL's
/// s_client and GnuTLS's gnutls-cli: data both ways and close_notify both ways after the handover, for every AEAD
/// family the listener offers; a CBC suite stays on OpenSSL.
/// </summary>
public sealed class HandoverPeerTests : IDisposable
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _caFile = Path.Combine(Path.GetTempPath(), $"dtls-ca-{Guid.NewGuid():N}.pem");

    public HandoverPeerTests() => File.WriteAllText(_caFile, Pki.Ca.Certificate.ExportCertificatePem());

    public void Dispose() => File.Delete(_caFile);

    public static TheoryData<string> Suites =>
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-CCM8",
        "ECDHE-ECDSA-AES128-CCM",
        "PSK-AES128-CCM8",
        "PSK-AES128-CCM",
        "PSK-AES128-GCM-SHA256",
        "PSK-AES256-GCM-SHA384",
        "ECDHE-PSK-CHACHA20-POLY1305",
    ];

    [Theory]
    [MemberData(nameof(Suites))]
    public async Task OpenSslClient_AeadSuite_HandedOver_EchoBothWays_ClientCloses(string suite)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var peer = PeerProcess.Start("openssl", ClientArguments(server.LocalEndPoint.Port, suite));

        var session = await HandedOverAsync(server, handler, suite);
        await peer.WriteLineAsync("ping-" + suite);
        await LineAsync(peer, "ping-" + suite); // s_client prints what it reads on a line of its own
        Assert.Contains(handler.Received, r => Encoding.ASCII.GetString(r.Data) == "ping-" + suite + "\n");

        Assert.Equal(DtlsSendResult.Sent, session.Send("from-gateway-1\n"u8));
        Assert.Equal(DtlsSendResult.Sent, session.Send("from-gateway-2\n"u8));
        await LineAsync(peer, "from-gateway-2");
        Assert.Contains("from-gateway-1", peer.Output, StringComparison.Ordinal);

        await ClientClosesAsync(peer, handler, session);
        Assert.Equal(0, server.Counters.OffloadBadRecords);
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public async Task OpenSslClient_AeadSuite_HandedOver_GatewayCloses_ClientSeesCloseNotify(string suite)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var peer = PeerProcess.Start("openssl", ClientArguments(server.LocalEndPoint.Port, suite));

        var session = await HandedOverAsync(server, handler, suite);
        await peer.WriteLineAsync("before-close");
        await LineAsync(peer, "before-close");

        // Quiet for a moment, the session gives its AEAD objects (native cipher contexts) back.
        var deadline = DateTime.UtcNow + Wait;
        while (session.HoldsAeadContexts)
        {
            Assert.True(DateTime.UtcNow < deadline, "AEAD objects still held");
            await Task.Delay(50);
        }

        session.Close();

        // s_client reports a close_notify it could decrypt as "closed" and exits.
        await peer.WaitForTextAsync("closed");
        await peer.WaitForExitAsync();
        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.LocalClose, reason);
        Assert.Equal(DtlsSendResult.Closed, session.Send("after"u8));
    }

    [Fact]
    public async Task GnuTlsClient_AesGcm_HandedOver_Echo()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        var output = await PeerProcess.ExchangeLineAsync(
            "gnutls-cli",
            $"--udp --port {server.LocalEndPoint.Port} --sni-hostname alpha.dtls.test --verify-hostname alpha.dtls.test --x509cafile {_caFile} --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL:+AES-256-GCM 127.0.0.1",
            "ping-gnutls-offload");

        Assert.Contains("ping-gnutls-offload", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("ECDHE-ECDSA-AES256-GCM-SHA384", session.CipherSuite);
        Assert.True(session.RecordProtectionHandedOver);
        Assert.Equal(1, server.Counters.RecordProtectionHandedOver);
        Assert.Contains(handler.Received, r => Encoding.ASCII.GetString(r.Data).StartsWith("ping-gnutls-offload", StringComparison.Ordinal));
        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.PeerClosed, reason);
    }

    [Theory]
    [InlineData("PSK-AES128-GCM-SHA256")]
    [InlineData("ECDHE-PSK-AES128-CBC-SHA256")]
    public async Task OpenSslClient_Renegotiates_RefusedWithNoRenegotiation_AsOpenSslDoes(string suite)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var peer = PeerProcess.Start("openssl", ClientArguments(server.LocalEndPoint.Port, suite));
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(suite.Contains("GCM", StringComparison.Ordinal), session.RecordProtectionHandedOver);

        // "R" on its own line makes s_client renegotiate: a ClientHello in epoch 1. Both paths answer with a
        // no_renegotiation warning, which s_client takes as the end (a fatal handshake_failure alert back).
        await peer.WriteLineAsync("R");
        await peer.WaitForTextAsync("no renegotiation");
        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.ProtocolError, reason);
        Assert.Empty(handler.Received);
    }

    [Fact]
    public async Task OpenSslClient_CbcSuite_StaysOnOpenSsl()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var peer = PeerProcess.Start("openssl", ClientArguments(server.LocalEndPoint.Port, "ECDHE-PSK-AES128-CBC-SHA256"));

        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        await peer.WriteLineAsync("ping-cbc");
        await LineAsync(peer, "ping-cbc");

        Assert.Equal("ECDHE-PSK-AES128-CBC-SHA256", session.CipherSuite);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        Assert.False(session.RecordProtectionHandedOver);
        Assert.True(session.HoldsOpenSslObject);
        Assert.Equal(1, server.Counters.HandoverNotCovered);
        Assert.Equal(0, server.Counters.RecordProtectionHandedOver);
        Assert.Equal(1, server.Counters.OpenSslObjectsHeld);
        await ClientClosesAsync(peer, handler, session);
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
    }

    /// <summary>Waits for the session to open and checks that it was handed over and holds no OpenSSL object.</summary>
    internal static async Task<DtlsSession> HandedOverAsync(DtlsServer server, TestHandler handler, string suite)
    {
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(suite, session.CipherSuite);
        // The handover happens in the step that completes the handshake, before the session is reported open.
        Assert.True(session.RecordProtectionHandedOver);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        Assert.False(session.HoldsOpenSslObject);
        Assert.Equal(1, server.Counters.RecordProtectionHandedOver);
        Assert.Equal(0, server.Counters.HandoverCheckFailed);
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
        return session;
    }

    /// <summary>Ends s_client's input, so that it sends close_notify, and waits for the session to close as closed by the peer.</summary>
    internal static async Task ClientClosesAsync(PeerProcess peer, TestHandler handler, DtlsSession session)
    {
        await peer.CloseInputAndWaitAsync(Wait);
        var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Same(session, closed);
        Assert.Equal(DtlsCloseReason.PeerClosed, reason);
    }

    /// <summary>Waits for a line that is exactly <paramref name="text"/> (what the peer read), not the echo of what it sent.</summary>
    internal static async Task LineAsync(PeerProcess peer, string text)
    {
        var seen = peer.WhenLine(l => l.Trim() == text);
        if (await Task.WhenAny(seen, Task.Delay(Wait)) != seen)
        {
            Assert.Fail($"'{text}' was not read in time:\n{peer.Output}");
        }
    }

    internal string ClientArguments(int port, string suite) =>
        suite.Contains("PSK", StringComparison.Ordinal)
            ? $"s_client -dtls1_2 -connect 127.0.0.1:{port} -psk_identity alpha/dev1 -psk {Convert.ToHexString(TestTenants.AlphaKey)} -cipher {suite}"
            : $"s_client -dtls1_2 -connect 127.0.0.1:{port} -servername alpha.dtls.test -CAfile {_caFile} -verify_return_error -cipher {suite}";
}
