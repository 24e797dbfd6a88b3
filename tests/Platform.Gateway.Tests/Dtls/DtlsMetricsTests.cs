using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Gateway.Dtls;
using Platform.Gateway.Tests.Support;
using Platform.Gateway.Tests.Telemetry;
using Platform.Testing;

namespace Platform.Gateway.Tests.Dtls;

/// <summary>
/// The DTLS listeners' counters as Prometheus shows them on a real gateway's admin listener, after datagrams written
/// here byte by byte (garbage, a stray record, ClientHellos without and with a wrong cookie) and handshakes of
/// <c>openssl s_client</c> and <c>gnutls-cli</c>.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class DtlsMetricsTests : IDisposable
{
    private readonly List<string> _files = [];

    public void Dispose()
    {
        foreach (var file in _files)
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Metrics_BadDatagramsCookieExchangesAndOpenSslHandshakes_CountedExactlyOnTheSharedListener()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        var server = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        await Wait.UntilAsync(() => Task.FromResult(server.Tenants.Tenants.Any(t => t.Settings.PreSharedKeys.Count == 1)), "the PSK in the DTLS directory");
        var metrics = new Uri(gateway.AdminUri, "/metrics");
        var shared = Shared(gateway.DtlsPort);

        // Nothing reached the listener yet: every counter is there, at zero, with its labels and type.
        var before = await PrometheusScrape.WaitAsync(metrics, s => s.Find("platform_gateway_dtls_datagrams_total").Any());
        Assert.Equal("counter", before.Types["platform_gateway_dtls_datagrams_total"]);
        Assert.Equal("gauge", before.Types["platform_gateway_dtls_openssl_objects"]);
        Assert.Equal(0, before.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]));
        Assert.Equal(0, before.Value("platform_gateway_dtls_handshakes_started_total", [.. shared, ("engine", "openssl")]));
        Assert.All(before.Samples.Where(s => s.Name.StartsWith("platform_gateway_dtls_", StringComparison.Ordinal)), s =>
        {
            Assert.Equal(0, s.Value);
            Assert.Equal("shared", s.Labels["listener"]);
            Assert.DoesNotContain("tenant", s.Labels.Keys);
        });

        // Garbage, a record from an address with no session, a record with a connection ID no session holds, a ClientHello
        // without a cookie, then one with a wrong cookie.
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        udp.Connect(IPAddress.Loopback, gateway.DtlsPort);
        byte[] garbage = [.. "not a DTLS record"u8];
        var stray = Record(23, epoch: 1, sequence: 7, new byte[24]);
        var strayCid = Record(25, epoch: 1, sequence: 8, RandomNumberGenerator.GetBytes(32));
        var random = RandomNumberGenerator.GetBytes(32);
        var cookieless = ClientHello(random, [], recordSequence: 0, messageSequence: 0);
        await udp.SendAsync(garbage);
        await udp.SendAsync(stray);
        await udp.SendAsync(strayCid);
        await udp.SendAsync(cookieless);
        var firstVerify = await ReceiveAsync(udp);
        var cookie = HelloVerifyCookie(firstVerify);
        cookie[0] ^= 0x5a;
        var forged = ClientHello(random, cookie, recordSequence: 1, messageSequence: 1);
        await udp.SendAsync(forged);
        var secondVerify = await ReceiveAsync(udp);
        Assert.NotEqual(cookie, HelloVerifyCookie(secondVerify));

        // A send is counted once the call returns, which may be after the client has the datagram.
        var crafted = await PrometheusScrape.WaitAsync(metrics, s => s.Value("platform_gateway_dtls_hello_verify_requests_total", shared) >= 2
            && s.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "out")]) >= 2);
        Assert.Equal(5, crafted.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]));
        Assert.Equal(2, crafted.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "out")]));
        Assert.Equal(garbage.Length + stray.Length + strayCid.Length + cookieless.Length + forged.Length, crafted.Value("platform_gateway_dtls_io_bytes_total", [.. shared, ("direction", "in")]));
        Assert.Equal(firstVerify.Length + secondVerify.Length, crafted.Value("platform_gateway_dtls_io_bytes_total", [.. shared, ("direction", "out")]));
        Assert.Equal(1, crafted.Value("platform_gateway_dtls_datagrams_dropped_total", [.. shared, ("reason", "malformed")]));
        Assert.Equal(1, crafted.Value("platform_gateway_dtls_datagrams_dropped_total", [.. shared, ("reason", "unknown_session")]));
        Assert.Equal(1, crafted.Value("platform_gateway_dtls_datagrams_dropped_total", [.. shared, ("reason", "unknown_connection_id")]));
        Assert.Equal(0, crafted.Value("platform_gateway_dtls_datagrams_dropped_total", [.. shared, ("reason", "session_queue_full")]));
        Assert.Equal(2, crafted.Value("platform_gateway_dtls_hello_verify_requests_total", shared));
        Assert.Equal(1, crafted.Value("platform_gateway_dtls_cookies_rejected_total", shared));
        Assert.Equal(0, crafted.Sum("platform_gateway_dtls_handshakes_started_total", shared));
        Assert.Equal(0, crafted.Value("platform_gateway_dtls_sessions_closed_total", shared));

        // Fifty hellos that never come back with their cookie (a spoofed-source flood, one at a time here): each is
        // answered with one HelloVerifyRequest, and nothing is kept for any of them.
        const int burst = 50;
        for (var i = 0; i < burst; i++)
        {
            await udp.SendAsync(ClientHello(RandomNumberGenerator.GetBytes(32), [], recordSequence: 0, messageSequence: 0));
            HelloVerifyCookie(await ReceiveAsync(udp));
        }

        var flooded = await PrometheusScrape.WaitAsync(metrics, s => s.Value("platform_gateway_dtls_hello_verify_requests_total", shared) >= 2 + burst
            && s.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "out")]) >= 2 + burst);
        Assert.Equal(2 + burst, flooded.Value("platform_gateway_dtls_hello_verify_requests_total", shared));
        Assert.Equal(5 + burst, flooded.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]));
        Assert.Equal(1, flooded.Value("platform_gateway_dtls_cookies_rejected_total", shared));
        Assert.Equal(0, flooded.Sum("platform_gateway_dtls_handshakes_started_total", shared));
        Assert.Equal(0, flooded.Value("platform_gateway_dtls_openssl_objects", shared));
        Assert.Equal(0, server.SessionCount);

        // A PSK handshake (an AEAD suite: the gateway's record layer takes over), a line echoed, then the client closes.
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -cipher PSK-AES128-GCM-SHA256";
        var served = await PeerProcess.ExchangeLineAsync("openssl", $"{arguments} -psk_identity acme/dev1 -psk {key}", "counted");
        Assert.Contains("\ncounted", served, StringComparison.Ordinal);
        var afterOne = await PrometheusScrape.WaitAsync(metrics, s => s.Value("platform_gateway_dtls_sessions_closed_total", shared) >= 1);
        Assert.Equal(1, afterOne.Value("platform_gateway_dtls_handshakes_started_total", [.. shared, ("engine", "openssl")]));
        Assert.Equal(0, afterOne.Value("platform_gateway_dtls_handshakes_started_total", [.. shared, ("engine", "bouncycastle")]));
        Assert.Equal(1, afterOne.Value("platform_gateway_dtls_handshakes_completed_total", [.. shared, ("engine", "openssl")]));
        Assert.Equal(0, afterOne.Value("platform_gateway_dtls_handshakes_completed_total", [.. shared, ("engine", "bouncycastle")]));
        Assert.Equal(1, afterOne.Value("platform_gateway_dtls_handover_sessions_total", [.. shared, ("outcome", "handed_over")]));
        Assert.Equal(0, afterOne.Value("platform_gateway_dtls_handover_sessions_total", [.. shared, ("outcome", "check_failed")]));
        Assert.Equal(1, afterOne.Value("platform_gateway_dtls_sessions_closed_total", shared));
        Assert.Equal(0, afterOne.Value("platform_gateway_dtls_openssl_objects", shared));
        // The client's own cookie exchange: one HelloVerifyRequest at least (more if its first hello was retransmitted).
        Assert.True(afterOne.Value("platform_gateway_dtls_hello_verify_requests_total", shared) >= 2 + burst + 1, afterOne.Text);
        Assert.True(afterOne.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]) >= 5 + burst + 4, afterOne.Text);

        // An identity no tenant has: refused in the PSK callback, so the handshake fails with an alert; nothing else moves.
        var unknown = await PeerProcess.ExchangeLineAsync("openssl", $"{arguments} -psk_identity acme/nobody -psk {key}", "never-echoed", expectEcho: false);
        Assert.DoesNotContain("\nnever-echoed", unknown, StringComparison.Ordinal);
        var afterTwo = await PrometheusScrape.WaitAsync(metrics, s => s.Value("platform_gateway_dtls_sessions_closed_total", shared) >= 2);
        Assert.Equal(2, afterTwo.Value("platform_gateway_dtls_handshakes_started_total", [.. shared, ("engine", "openssl")]));
        Assert.Equal(1, afterTwo.Sum("platform_gateway_dtls_handshakes_completed_total", shared));
        Assert.Equal(1, afterTwo.Value("platform_gateway_dtls_handshakes_refused_total", shared));
        Assert.Equal(1, afterTwo.Value("platform_gateway_dtls_handshakes_failed_total", [.. shared, ("engine", "openssl")]));
        Assert.Equal(0, afterTwo.Value("platform_gateway_dtls_handshakes_failed_total", [.. shared, ("engine", "bouncycastle")]));
        Assert.Equal(0, afterTwo.Sum("platform_gateway_dtls_handshakes_timed_out_total", shared));
        Assert.Equal(1, afterTwo.Value("platform_gateway_dtls_handover_sessions_total", [.. shared, ("outcome", "handed_over")]));
        Assert.Equal(0, afterTwo.Value("platform_gateway_dtls_internal_errors_total", shared));
        Assert.Equal(0, afterTwo.Value("platform_gateway_dtls_socket_errors_total", shared));
        Assert.Equal(0, afterTwo.Value("platform_gateway_dtls_openssl_objects", shared));

        // What Prometheus shows is what the listener counted.
        Assert.Equal(server.Counters.HandshakesStarted, afterTwo.Sum("platform_gateway_dtls_handshakes_started_total", shared));
        Assert.Equal(server.Counters.CookieRejected, afterTwo.Value("platform_gateway_dtls_cookies_rejected_total", shared));
    }

    [Fact]
    public async Task Metrics_DedicatedPortWithABouncyCastleHandshake_ReportedPerPortUntilThePortIsReleased()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Dtls = new DtlsConfig { HeartbeatIntervalSeconds = 30, HeartbeatTimeoutSeconds = 10 } });
        var material = TestCertificates.ServerMaterial("hb.acme.example");
        await UploadCertificateAsync(silo, "acme", material);
        int port;
        using (var allocated = await silo.Operator.PostAsJsonAsync(
            new Uri("/v1/tenants/acme/ports", UriKind.Relative), new AllocatePortRequest(ConnectionProtocols.Dtls), PlatformJson.Options))
        {
            Assert.True(allocated.IsSuccessStatusCode, await allocated.Content.ReadAsStringAsync());
            port = (await allocated.Content.ReadFromJsonAsync<DedicatedPortResponse>(PlatformJson.Options))!.Port;
        }

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        var listeners = gateway.Services.GetRequiredService<DtlsListeners>();
        await Wait.UntilAsync(() => Task.FromResult(listeners.DedicatedPorts.Contains(port)
            && listeners.Shared!.Tenants.Tenants.Any(t => t.Settings.CertificatePems.Count == 1)), "the dedicated DTLS port listening with the certificate");
        var metrics = new Uri(gateway.AdminUri, "/metrics");
        var dedicated = new[] { ("listener", "dedicated"), ("port", port.ToString(CultureInfo.InvariantCulture)) };
        var shared = Shared(gateway.DtlsPort);
        var ca = WriteTemp(material.CertificateChainPem);

        // A heartbeat-offering client of a tenant that enables heartbeats: the BouncyCastle engine serves it.
        await using (var peer = PeerProcess.Start(
            "gnutls-cli",
            $"--udp --heartbeat --port {port} --sni-hostname hb.acme.example --verify-hostname hb.acme.example --x509cafile {ca} --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 127.0.0.1"))
        {
            await peer.WaitForTextAsync("Handshake was completed");
            var open = await PrometheusScrape.WaitAsync(metrics, s => s.Sum("platform_gateway_dtls_handshakes_completed_total", dedicated) >= 1);
            Assert.Equal(1, open.Value("platform_gateway_dtls_handshakes_started_total", [.. dedicated, ("engine", "bouncycastle")]));
            Assert.Equal(0, open.Value("platform_gateway_dtls_handshakes_started_total", [.. dedicated, ("engine", "openssl")]));
            Assert.Equal(1, open.Value("platform_gateway_dtls_handshakes_completed_total", [.. dedicated, ("engine", "bouncycastle")]));
            Assert.Equal(0, open.Value("platform_gateway_dtls_handshakes_completed_total", [.. dedicated, ("engine", "openssl")]));
            Assert.Equal(0, open.Sum("platform_gateway_dtls_handshakes_failed_total", dedicated));
            Assert.True(open.Value("platform_gateway_dtls_hello_verify_requests_total", dedicated) >= 1, open.Text);
            // BouncyCastle sessions never hold an OpenSSL object, and the shared listener saw none of it.
            Assert.Equal(0, open.Value("platform_gateway_dtls_openssl_objects", dedicated));
            Assert.Equal(0, open.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]));
            Assert.Equal(0, open.Sum("platform_gateway_dtls_handshakes_started_total", shared));
        }

        // The port released: its listener stops, and so do its series; the shared listener's stay.
        using (var release = await silo.Operator.DeleteAsync(new Uri($"/v1/tenants/acme/ports/{port}", UriKind.Relative)))
        {
            Assert.True(release.IsSuccessStatusCode, await release.Content.ReadAsStringAsync());
        }

        await Wait.UntilAsync(() => Task.FromResult(!listeners.DedicatedPorts.Contains(port)), "the dedicated DTLS port closed");
        var after = await PrometheusScrape.WaitAsync(metrics, s => !s.Samples.Any(x => x.Labels.GetValueOrDefault("port") == dedicated[1].Item2));
        Assert.DoesNotContain(after.Samples, s => s.Labels.GetValueOrDefault("listener") == "dedicated");
        Assert.Equal(0, after.Value("platform_gateway_dtls_datagrams_total", [.. shared, ("direction", "in")]));
        Assert.NotEmpty(after.Find("platform_gateway_dtls_handshakes_started_total", shared));
    }

    private static (string, string)[] Shared(int port) => [("listener", "shared"), ("port", port.ToString(CultureInfo.InvariantCulture))];

    /// <summary>One DTLS record: type, version 1.2, epoch, 48-bit sequence number, length, payload.</summary>
    private static byte[] Record(byte type, ushort epoch, ulong sequence, byte[] payload)
    {
        var record = new byte[13 + payload.Length];
        record[0] = type;
        record[1] = 0xFE;
        record[2] = 0xFD;
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), epoch);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(5), (ushort)(sequence >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(7), (uint)sequence);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(11), (ushort)payload.Length);
        payload.CopyTo(record, 13);
        return record;
    }

    /// <summary>A whole, unfragmented ClientHello offering TLS_PSK_WITH_AES_128_GCM_SHA256, without extensions.</summary>
    private static byte[] ClientHello(byte[] random, byte[] cookie, ulong recordSequence, ushort messageSequence)
    {
        byte[] body = [0xFE, 0xFD, .. random, 0, (byte)cookie.Length, .. cookie, 0x00, 0x02, 0x00, 0xA8, 0x01, 0x00];
        var handshake = new byte[12 + body.Length];
        handshake[0] = 1;
        WriteUInt24(handshake.AsSpan(1), body.Length);
        BinaryPrimitives.WriteUInt16BigEndian(handshake.AsSpan(4), messageSequence);
        WriteUInt24(handshake.AsSpan(6), 0);
        WriteUInt24(handshake.AsSpan(9), body.Length);
        body.CopyTo(handshake, 12);
        return Record(22, epoch: 0, recordSequence, handshake);
    }

    /// <summary>The cookie of a HelloVerifyRequest (handshake type 3: version, then the cookie vector).</summary>
    private static byte[] HelloVerifyCookie(byte[] datagram)
    {
        Assert.Equal(22, datagram[0]);
        Assert.Equal(3, datagram[13]);
        var length = datagram[13 + 12 + 2];
        return datagram.AsSpan(13 + 12 + 3, length).ToArray();
    }

    private static void WriteUInt24(Span<byte> to, int value)
    {
        to[0] = (byte)(value >> 16);
        to[1] = (byte)(value >> 8);
        to[2] = (byte)value;
    }

    private static async Task<byte[]> ReceiveAsync(UdpClient udp)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        return (await udp.ReceiveAsync(limit.Token)).Buffer;
    }

    private static async Task UploadCertificateAsync(SiloFixture silo, string slug, Contracts.Internal.CertificateMaterial material)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/certificates", UriKind.Relative), new Contracts.Certificates.UploadCertificateRequest(Pem: material.CertificateChainPem + material.PrivateKeyPem), PlatformJson.Options);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await HostNameApproval.ApproveAsync(silo.Operator, slug, [.. material.HostNames]);
    }

    private static async Task CreatePskAsync(SiloFixture silo, string slug, string identity, string keyHex)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/psk-identities", UriKind.Relative), new CreatePskIdentityRequest(identity, keyHex), PlatformJson.Options);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private string WriteTemp(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dtls-metrics-{Guid.NewGuid():N}.pem");
        File.WriteAllText(path, text);
        _files.Add(path);
        return path;
    }
}
