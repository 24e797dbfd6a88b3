using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// Full DTLS 1.2 handshakes between an OpenSSL client and server SSL object on datagram channels in memory, with the
/// server side's thread CPU time counted separately: server CPU per handshake is what a gateway core pays.
/// </summary>
internal static unsafe class HandshakeBench
{
    /// <summary>One suite's in-process figure: server time is the time spent in the server SSL object's calls.</summary>
    public sealed record InProcessResult(string Name, int Count, TimeSpan ServerTime, TimeSpan Wall)
    {
        public double ServerPerSecond => Count / ServerTime.TotalSeconds;
    }

    private const int SslCtrlMode = 33;
    private const nint SslModeReleaseBuffers = 0x10;

    private static readonly byte[] Psk = RandomNumberGenerator.GetBytes(16);

    public static Task<int> RunAsync(double seconds)
    {
        foreach (var result in Measure(seconds))
        {
            Console.WriteLine($"{result.Name}: {result.Count} handshakes in {result.Wall.TotalSeconds:F1} s; server side {result.ServerPerSecond:F0} handshakes/s per core ({result.ServerTime.TotalMilliseconds * 1000 / result.Count:F0} us each, cookie exchange included); client+server on one thread {result.Count / result.Wall.TotalSeconds:F0}/s");
        }

        return Task.FromResult(0);
    }

    /// <summary>Both suites for <paramref name="seconds"/> each (after half a second of warm-up), on the calling thread.</summary>
    public static List<InProcessResult> Measure(double seconds)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=bench.dtls.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var pem = certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
        using var serverContext = SslContextFactory.CreateTenantContext(pem, "", 0, SslContextFactory.DefaultCipherList, new byte[32], out _);
        var results = new List<InProcessResult>();
        foreach (var (name, cipher, psk) in new[] { ("ECDHE-ECDSA P-256", "ECDHE-ECDSA-AES128-GCM-SHA256", false), ("ECDHE-PSK P-256", "ECDHE-PSK-AES128-CBC-SHA256", true) })
        {
            using var clientContext = BenchDtlsClient.CreateContext(cipher);
            Run(serverContext, clientContext, psk, TimeSpan.FromSeconds(0.5), out _, out _, out _);
            Run(serverContext, clientContext, psk, TimeSpan.FromSeconds(seconds), out var count, out var serverTime, out var wall);
            results.Add(new InProcessResult(name, count, serverTime, wall));
        }

        return results;
    }

    private static void Run(SslContextHandle serverContext, SslContextHandle clientContext, bool psk, TimeSpan duration, out int count, out TimeSpan serverTime, out TimeSpan wall)
    {
        count = 0;
        var serverWatch = new ThreadCpuWatch();
        var wallWatch = Stopwatch.StartNew();
        var target = new BenchTarget();
        while (wallWatch.Elapsed < duration)
        {
            var (server, serverChannel) = Handshake(serverContext, clientContext, psk, target, serverWatch, releaseBuffers: false);
            server.Dispose();
            serverChannel.Dispose();
            count++;
        }

        serverTime = serverWatch.Elapsed;
        wall = wallWatch.Elapsed;
    }

    /// <summary>How the held server objects treat their record buffers after the handshake.</summary>
    public enum BufferHandling
    {
        Keep,
        ReleaseMode,
        ReleaseModeAfterRead,
        FreedAfterRead,
    }

    /// <summary>Bytes per held session for each <see cref="BufferHandling"/>.</summary>
    public sealed record Retained(double Plain, double ReleaseMode, double ReleaseModeAfterRead, double FreedAfterRead);

    /// <summary>
    /// Each handling in a fresh process of this harness (<c>retained-one COUNT HANDLING</c>): in one process, memory a
    /// previous measurement freed would be reused by the next and hide its growth.
    /// </summary>
    public static Retained RetainedPerSession(int count) => new(
        InChildProcess(count, BufferHandling.Keep),
        InChildProcess(count, BufferHandling.ReleaseMode),
        InChildProcess(count, BufferHandling.ReleaseModeAfterRead),
        InChildProcess(count, BufferHandling.FreedAfterRead));

    private static double InChildProcess(int count, BufferHandling handling)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { Environment.GetCommandLineArgs()[0], "retained-one", count.ToString(System.Globalization.CultureInfo.InvariantCulture), handling.ToString() })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("retained-one did not start");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? double.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"retained-one {handling} failed ({process.ExitCode})");
    }

    /// <summary>
    /// Native and managed memory retained per established server session of the library alone: <paramref name="count"/>
    /// ECDHE-PSK handshakes whose server SSL objects are kept, process RSS before and after (after a full GC), with the
    /// record buffers handled as <paramref name="handling"/> says: kept, SSL_MODE_RELEASE_BUFFERS, the mode and one
    /// SSL_read after the handshake (which the gateway always does), or that and SSL_free_buffers. Bytes per session.
    /// </summary>
    public static double RetainedBytesPerSession(int count, BufferHandling handling, bool profile = false)
    {
        var releaseBuffers = handling != BufferHandling.Keep;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=bench.dtls.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var pem = certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
        using var serverContext = SslContextFactory.CreateTenantContext(pem, "", 0, SslContextFactory.DefaultCipherList, new byte[32], out _);
        using var clientContext = BenchDtlsClient.CreateContext("ECDHE-PSK-AES128-CBC-SHA256");
        var target = new BenchTarget();
        var watch = new ThreadCpuWatch();
        var held = new List<(SslHandle Server, DatagramChannel Channel)>(count);
        try
        {
            // Warm-up outside the measurement (OpenSSL's and the runtime's one-time allocations).
            var warm = Handshake(serverContext, clientContext, psk: true, target, watch, releaseBuffers);
            AfterHandshake(warm.Server, handling);
            held.Add(warm);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var before = ProcessStats.RssBytes([Environment.ProcessId]);
            var allocatedBefore = profile ? OpenSslAllocations.Snapshot() : null;
            for (var i = 0; i < count; i++)
            {
                var session = Handshake(serverContext, clientContext, psk: true, target, watch, releaseBuffers);
                AfterHandshake(session.Server, handling);
                held.Add(session);
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            var growth = (ProcessStats.RssBytes([Environment.ProcessId]) - before) / (double)count;
            if (allocatedBefore is not null)
            {
                Console.Error.WriteLine($"{handling}: RSS growth {growth / 1024:F1} KiB per held session");
                OpenSslAllocations.Report(allocatedBefore, OpenSslAllocations.Snapshot(), count, Console.Error);
            }

            return growth;
        }
        finally
        {
            foreach (var (server, channel) in held)
            {
                server.Dispose();
                channel.Dispose();
            }
        }
    }

    private static void AfterHandshake(SslHandle server, BufferHandling handling)
    {
        if (handling is BufferHandling.ReleaseModeAfterRead or BufferHandling.FreedAfterRead)
        {
            // Nothing is waiting: the read sets the record buffers up again and asks for input.
            var buffer = stackalloc byte[16];
            NativeMethods.SSL_read(server, buffer, 16);
            OpenSslError.Clear();
        }

        if (handling == BufferHandling.FreedAfterRead && NativeMethods.SSL_free_buffers(server) != 1)
        {
            throw new InvalidOperationException("SSL_free_buffers refused with nothing pending");
        }
    }

    /// <summary>One full handshake; returns the server SSL object and its channel (dispose the SSL object first).</summary>
    private static (SslHandle Server, DatagramChannel Channel) Handshake(SslContextHandle serverContext, SslContextHandle clientContext, bool psk, BenchTarget target, ThreadCpuWatch serverWatch, bool releaseBuffers)
    {
        using var client = NativeMethods.SSL_new(clientContext);
        using var clientChannel = new DatagramChannel { Owner = target };
        clientChannel.AttachTo(client);
        NativeMethods.SSL_ctrl(client, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero);
        NativeMethods.SSL_set_connect_state(client);
        if (psk)
        {
            NativeMethods.SSL_set_psk_client_callback(client, &ClientPsk);
        }

        serverWatch.Start();
        var server = NativeMethods.SSL_new(serverContext);
        var serverChannel = new DatagramChannel { Owner = target };
        serverChannel.AttachTo(server);
        NativeMethods.SSL_ctrl(server, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero);
        if (releaseBuffers)
        {
            NativeMethods.SSL_ctrl(server, SslCtrlMode, SslModeReleaseBuffers, nint.Zero);
        }

        using var peer = NativeMethods.BIO_ADDR_new();
        serverWatch.Stop();

        var toServer = new List<byte[]>();
        var toClient = new List<byte[]>();
        var listened = false;
        var done = false;
        for (var step = 0; step < 40 && !done; step++)
        {
            Pump(client, clientChannel, toClient);
            clientChannel.TakeDatagrams(1200, toServer);
            serverWatch.Start();
            foreach (var datagram in toServer)
            {
                serverChannel.SetInbound(datagram, datagram.Length);
                if (!listened)
                {
                    listened = NativeMethods.DTLSv1_listen(server, peer) == 1;
                    serverChannel.ClearInbound();
                    continue;
                }

                done = NativeMethods.SSL_do_handshake(server) == 1;
                serverChannel.ClearInbound();
            }

            if (listened && toServer.Count == 0)
            {
                done = NativeMethods.SSL_do_handshake(server) == 1;
            }

            toServer.Clear();
            serverChannel.TakeDatagrams(1200, toClient);
            serverWatch.Stop();
        }

        Pump(client, clientChannel, toClient);
        OpenSslError.Clear();
        if (!done || NativeMethods.SSL_is_init_finished(client) != 1)
        {
            server.Dispose();
            serverChannel.Dispose();
            throw new InvalidOperationException("handshake did not complete");
        }

        return (server, serverChannel);
    }

    private static void Pump(SslHandle client, DatagramChannel channel, List<byte[]> inbound)
    {
        if (inbound.Count == 0)
        {
            NativeMethods.SSL_do_handshake(client);
        }

        foreach (var datagram in inbound)
        {
            channel.SetInbound(datagram, datagram.Length);
            NativeMethods.SSL_do_handshake(client);
            channel.ClearInbound();
        }

        inbound.Clear();
    }

    [UnmanagedCallersOnly]
    private static uint ClientPsk(nint ssl, byte* hint, byte* identity, uint maxIdentity, byte* psk, uint maxPsk)
    {
        var name = "bench/dev1\0"u8;
        name.CopyTo(new Span<byte>(identity, (int)maxIdentity));
        Psk.CopyTo(new Span<byte>(psk, (int)maxPsk));
        return (uint)Psk.Length;
    }

    private sealed class BenchTarget : ISslCallbackTarget
    {
        private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);

        public int GenerateCookie(Span<byte> cookie) => HMACSHA256.HashData(_secret, "client"u8, cookie);

        public bool VerifyCookie(ReadOnlySpan<byte> cookie)
        {
            Span<byte> expected = stackalloc byte[32];
            HMACSHA256.HashData(_secret, "client"u8, expected);
            return CryptographicOperations.FixedTimeEquals(expected, cookie);
        }

        public int OnServerName(nint ssl, string? hostName, out int alert)
        {
            alert = 0;
            return NativeMethods.TlsextErrOk;
        }

        public int OnPskIdentity(string identity, Span<byte> key)
        {
            Psk.CopyTo(key);
            return Psk.Length;
        }
    }
}
