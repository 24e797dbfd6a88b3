using System.Collections.Frozen;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>
/// The BouncyCastle engine against peers written elsewhere: gnutls-cli with heartbeats and with a client raw public key;
/// and the OpenSSL engine still serving every client that asks for none of those features.
/// </summary>
public sealed class BcInteropTests : IDisposable
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("dtls-bc-").FullName;
    private readonly string _caFile;

    public BcInteropTests()
    {
        _caFile = Path.Combine(_dir, "ca.pem");
        File.WriteAllText(_caFile, Pki.Ca.Certificate.ExportCertificatePem());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static DtlsTenantSettings WithFeatures(DtlsTenantSettings settings, DtlsFeatureSettings features) => settings with { Features = features };

    [Fact]
    public async Task GnuTlsHeartbeat_RequestsAnsweredAndEchoOnBouncyCastle()
    {
        // The line waits in gnutls-cli's stdin and leaves right after the handshake, before the first heartbeat request
        // (1 s later): after one, gnutls-cli reads no stdin until the gateway sends data (BcHeartbeatTests).
        await using var run = await StartHeartbeatPeerAsync(heartbeatTimeout: TimeSpan.FromSeconds(10), lineBeforeHandshake: "ping-heartbeat");
        var (handler, server, peer, session, echoed) = (run.Handler, run.Server, run.Peer, run.Session, run.Echoed);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.True(session.HeartbeatsEnabled);
        await echoed.WaitAsync(Wait);
        Assert.Contains(handler.Received, r => Encoding.ASCII.GetString(r.Data).StartsWith("ping-heartbeat", StringComparison.Ordinal));

        // The gateway sends a request each second of silence; gnutls-cli answers each one.
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= 2, Wait, () => $"requests {session.HeartbeatRequestsSent}, answered {session.HeartbeatResponsesReceived}:\n{peer.Output}");
        Assert.False(session.IsClosed);
        Assert.Equal(1, server.BcCounters.HandshakesStarted);
    }

    [Fact]
    public async Task GnuTlsHeartbeat_PendingHandshakeReleaseAndHeartbeatsShareOneTimerEntry()
    {
        // The line below is typed after the handshake, so the first heartbeat request must come later than that (5 s):
        // after one, gnutls-cli reads no stdin until the gateway sends data (BcHeartbeatTests).
        await using var run = await StartHeartbeatPeerAsync(heartbeatTimeout: TimeSpan.FromSeconds(10), heartbeatInterval: TimeSpan.FromSeconds(5));
        var (server, peer, session) = (run.Server, run.Peer, run.Session);

        // Before any data BouncyCastle holds the handshake; the session's one entry serves its release and the heartbeats.
        Assert.True(session.BcHandshakeHeld);
        await Poll.UntilAsync(() => server.Timers.Count == 1, Wait, () => $"{server.Timers.Count} timer entries");

        // The client's data releases the handshake; heartbeats go on, on the same single entry.
        var echoed = peer.WhenLine(l => l == "ping-release");
        await peer.WriteLineAsync("ping-release");
        await echoed.WaitAsync(Wait);
        await Poll.UntilAsync(() => !session.BcHandshakeHeld, Wait, () => "the handshake is still held");
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= 2, Wait, () => $"requests {session.HeartbeatRequestsSent}, answered {session.HeartbeatResponsesReceived}:\n{peer.Output}");
        Assert.Equal(1, server.Timers.Count);
        Assert.False(session.IsClosed);
    }

    [Fact]
    public async Task GnuTlsHeartbeat_PeerStopped_SessionClosedWithHeartbeatTimeout()
    {
        await using var run = await StartHeartbeatPeerAsync(heartbeatTimeout: TimeSpan.FromSeconds(3));
        var (handler, server, peer, session) = (run.Handler, run.Server, run.Peer, run.Session);
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= 1, Wait, () => peer.Output);

        // A device that hangs: the process stops answering but its socket stays open.
        Signal(peer.Id, "STOP");
        try
        {
            var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            Assert.Same(session, closed);
            Assert.Equal(DtlsCloseReason.HeartbeatTimeout, reason);
            Assert.Equal(1, server.BcCounters.HeartbeatTimeouts);
        }
        finally
        {
            Signal(peer.Id, "CONT");
        }
    }

    [Fact]
    public async Task GnuTlsHeartbeat_TenantWithoutHeartbeats_ServedByOpenSsl()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        var output = await PeerProcess.ExchangeLineAsync("gnutls-cli", GnuTlsArguments(server, "--heartbeat"), "ping-plain");

        Assert.Contains("ping-plain", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        Assert.Equal(0, server.BcCounters.HandshakesStarted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OpenSslClient_CertificateAndPsk_StillServedByOpenSslWhenTenantEnablesEveryFeature(bool psk)
    {
        var handler = new TestHandler();
        var features = new DtlsFeatureSettings { HeartbeatInterval = TimeSpan.FromSeconds(5), ConnectionIdLength = 8, RawPublicKeys = true };
        await using var server = TestTenants.StartServer(Pki.Directory(WithFeatures(Pki.Alpha(), features), Pki.Beta()), handler);
        var arguments = psk
            ? $"s_client -dtls1_2 -connect 127.0.0.1:{server.LocalEndPoint.Port} -psk_identity alpha/dev1 -psk {Convert.ToHexString(TestTenants.AlphaKey)} -cipher PSK-AES128-GCM-SHA256"
            : $"s_client -dtls1_2 -connect 127.0.0.1:{server.LocalEndPoint.Port} -servername alpha.dtls.test -CAfile {_caFile} -verify_return_error";

        var output = await PeerProcess.ExchangeLineAsync("openssl", arguments, "ping-openssl-engine");

        Assert.Contains("\nping-openssl-engine", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        Assert.Null(session.ConnectionId);
        Assert.Equal(0, server.BcCounters.HandshakesStarted);
    }

    [Fact]
    public async Task GnuTlsRawPublicKey_Registered_AcceptedWithFingerprintAndEcho()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (keyFile, publicFile) = WriteRawKey(key, "registered");
        var spki = key.ExportSubjectPublicKeyInfo();
        var handler = new TestHandler();
        var features = new DtlsFeatureSettings { RawPublicKeys = true, TrustedKeyFingerprints = new[] { DtlsFeatureSettings.Fingerprint(spki) }.ToFrozenSet() };
        await using var server = TestTenants.StartServer(Pki.Directory(WithFeatures(Pki.Alpha(), features), Pki.Beta()), handler);

        var output = await PeerProcess.ExchangeLineAsync("gnutls-cli", GnuTlsArguments(server, $"--rawpkkeyfile {keyFile} --rawpkfile {publicFile}", "-CTYPE-CLI-ALL:+CTYPE-CLI-RAWPK"), "ping-rawpk");

        Assert.Contains("ping-rawpk", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(spki)), session.RawPublicKeyFingerprint);
    }

    [Fact]
    public async Task GnuTlsRawPublicKey_Unregistered_RefusedWithAlert()
    {
        using var registered = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (keyFile, publicFile) = WriteRawKey(other, "other");
        var handler = new TestHandler();
        var features = new DtlsFeatureSettings { RawPublicKeys = true, TrustedKeyFingerprints = new[] { DtlsFeatureSettings.Fingerprint(registered.ExportSubjectPublicKeyInfo()) }.ToFrozenSet() };
        await using var server = TestTenants.StartServer(Pki.Directory(WithFeatures(Pki.Alpha(), features), Pki.Beta()), handler);

        var output = await PeerProcess.ExchangeLineAsync("gnutls-cli", GnuTlsArguments(server, $"--rawpkkeyfile {keyFile} --rawpkfile {publicFile}", "-CTYPE-CLI-ALL:+CTYPE-CLI-RAWPK"), "never-echoed", expectEcho: false);

        Assert.Contains("Certificate is bad", output, StringComparison.Ordinal);
        Assert.DoesNotContain("- Received[", output, StringComparison.Ordinal);
        Assert.False(handler.Opened.Reader.TryRead(out _));
        var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.HandshakeFailed, reason);
        Assert.Contains("raw public key not registered", closed.FailureDetail, StringComparison.Ordinal);
    }

    /// <summary>
    /// A gateway whose tenant alpha asks for a heartbeat each second of silence, and gnutls-cli connected to it with
    /// heartbeats on; returns once the handshake completed and the gateway reported the session open.
    /// </summary>
    private async Task<HeartbeatRun> StartHeartbeatPeerAsync(TimeSpan heartbeatTimeout, TimeSpan? heartbeatInterval = null, string? lineBeforeHandshake = null)
    {
        var handler = new TestHandler();
        var alpha = WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { HeartbeatInterval = heartbeatInterval ?? TimeSpan.FromSeconds(1), HeartbeatTimeout = heartbeatTimeout });
        var server = TestTenants.StartServer(Pki.Directory(alpha, Pki.Beta()), handler);
        PeerProcess? peer = null;
        try
        {
            peer = PeerProcess.Start("gnutls-cli", GnuTlsArguments(server, "--heartbeat"));
            var echoed = Task.CompletedTask;
            if (lineBeforeHandshake is not null)
            {
                echoed = peer.WhenLine(l => l == lineBeforeHandshake);
                await peer.WriteLineAsync(lineBeforeHandshake);
            }

            await peer.WaitForTextAsync("Handshake was completed");
            var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            return new HeartbeatRun(handler, server, peer, session, echoed);
        }
        catch
        {
            if (peer is not null)
            {
                await peer.DisposeAsync();
            }

            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One heartbeat test's gateway and peer, and the echo of the line written before the handshake (completed when none
    /// was); disposing stops the peer, then the gateway.
    /// </summary>
    private sealed record HeartbeatRun(TestHandler Handler, DtlsServer Server, PeerProcess Peer, DtlsSession Session, Task Echoed) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Peer.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private (string KeyFile, string PublicFile) WriteRawKey(ECDsa key, string name)
    {
        var keyFile = Path.Combine(_dir, name + "-key.pem");
        var publicFile = Path.Combine(_dir, name + "-pub.pem");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(publicFile, key.ExportSubjectPublicKeyInfoPem());
        return (keyFile, publicFile);
    }

    private string GnuTlsArguments(DtlsServer server, string extra, string priority = "") =>
        $"--udp --port {server.LocalEndPoint.Port} --sni-hostname alpha.dtls.test --verify-hostname alpha.dtls.test --x509cafile {_caFile} "
        + $"--priority NORMAL:-VERS-ALL:+VERS-DTLS1.2{(priority.Length > 0 ? ":" + priority : "")} {extra} 127.0.0.1";

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}");
        kill.WaitForExit();
    }
}
