using System.Diagnostics;
using System.Globalization;
using System.Net;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>Settings of a run against a gateway process (see Program.cs for the command line).</summary>
internal sealed record GatewayBenchOptions
{
    public required IPEndPoint Server { get; init; }

    public required IReadOnlyList<int> GatewayPids { get; init; }

    public required string ServerName { get; init; }

    public required PskCredentials Psk { get; init; }

    public required PskCredentials ForwardPsk { get; init; }

    public int EchoPort { get; init; }

    public int SpeedSeconds { get; init; } = 3;

    public double InProcessSeconds { get; init; } = 3;

    public int Concurrency { get; init; } = 8;

    /// <summary>Client loops of the handshakes-light phase, each with its own source address and one UDP socket.</summary>
    public int LightConcurrency { get; init; } = 64;

    /// <summary>
    /// When above 0, the handshakes-light phase is also measured with this many client loops, just before the measurement
    /// with <see cref="LightConcurrency"/> loops, in the same pass: a same-run comparison of the clients' concurrency.
    /// </summary>
    public int LightCompare { get; init; }

    /// <summary>Threads of the handshakes-light phase, each an event loop over its share of the client loops.</summary>
    public int LightThreads { get; init; } = Environment.ProcessorCount;

    public double HandshakeSeconds { get; init; } = 10;

    public int EchoSessions { get; init; } = 16;

    public double EchoSeconds { get; init; } = 10;

    public int IdleSessions { get; init; } = 10_000;

    public int IdlePerProcess { get; init; } = 5_000;

    public int IdleConcurrency { get; init; } = 32;

    /// <summary>
    /// The suite the idle OpenSSL sessions offer (<c>--idle-suite</c>): by default an AEAD suite with ECDHE, whose record
    /// protection the gateway takes over after the handshake; <c>ECDHE-PSK-AES128-CBC-SHA256</c> keeps them on OpenSSL.
    /// </summary>
    public string IdleSuite { get; init; } = "ECDHE-PSK-CHACHA20-POLY1305";

    /// <summary>The suite of the echo sessions through <c>forward</c> (<c>--echo-suite</c>); CBC by default, as in earlier runs.</summary>
    public string EchoSuite { get; init; } = "ECDHE-PSK-AES128-CBC-SHA256";

    /// <summary>
    /// Seconds the idle sessions are held after the last is up before the settled RSS and the heap are read: 10 by
    /// default; 250 or more lets BouncyCastle sessions reach the read that frees their finished handshake (241 s).
    /// </summary>
    public double IdleSettleSeconds { get; init; } = 10;

    /// <summary>Seconds between the samples of the gateway's RSS (and, with <see cref="CountersTool"/>, its GC) during the settle time; 0 for none.</summary>
    public double IdleSampleSeconds { get; init; } = 10;

    /// <summary>dotnet-counters, when present: the GC's view (committed, generations, fragmentation, collections) is sampled during the settle time.</summary>
    public string? CountersTool { get; init; }

    /// <summary>dotnet-gcdump, when present: the gateway's live managed heap is reported while the idle sessions are held.</summary>
    public string? GcDumpTool { get; init; }

    /// <summary>
    /// The gateway's standard error file: when set (and gdb is installed), glibc's malloc_stats() is called in the
    /// gateway through gdb before and with the idle sessions, and its totals are read back from this file.
    /// </summary>
    public string? GatewayLog { get; init; }

    /// <summary>Printed in the headings, to tell several gateways of one run apart.</summary>
    public string Label { get; init; } = "";

    /// <summary>Phases to run, of speed, inproc, handshakes, handshakes-light, echo, idle, bc-inproc, bc-handshakes, bc-idle.</summary>
    public IReadOnlySet<string> Phases { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "speed", "inproc", "handshakes", "handshakes-light", "echo", "idle", "bc-inproc", "bc-handshakes", "bc-idle" };

    /// <summary>What the BouncyCastle clients offer (the bench tenant enables both).</summary>
    public BenchBcFeatures BcFeatures { get; init; } = BenchBcFeatures.ConnectionId;

    /// <summary>The silo's REST base address: the directory shows which engine served each session.</summary>
    public Uri? Silo { get; init; }

    /// <summary>The operator key for the directory (from the environment, never the command line).</summary>
    public string? OperatorKey { get; init; }

    /// <summary>The tenant whose directory holds the sessions of the handshake and idle phases.</summary>
    public string TenantSlug { get; init; } = "bench";
}

/// <summary>
/// The DTLS figures against a real gateway process, in one run: OpenSSL's own P-256 costs, the in-process library
/// rate, full handshakes per second (ECDHE-ECDSA and ECDHE-PSK) with the gateway's CPU time per handshake, datagrams
/// echoed through `forward` to a UDP backend, and the gateway's RSS per idle session.
/// </summary>
internal static class GatewayBench
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(GatewayBenchOptions options)
    {
        var report = new List<string>();
        void Line(string text)
        {
            Console.WriteLine(text);
            report.Add(text);
        }

        Console.Error.WriteLine($"load average {ProcessStats.LoadAverage()} at start");
        await using var backend = new UdpEchoBackend(options.EchoPort);
        bool Runs(string phase) => options.Phases.Contains(phase);
        var label = options.Label.Length == 0 ? "" : $" [{options.Label}]";

        // Without the speed phase the ideal columns use P-256 figures of this machine class (documented runs).
        var speed = Runs("speed") ? await OpenSslSpeed.RunAsync(options.SpeedSeconds) : null;
        if (speed is not null)
        {
            Console.Error.WriteLine($"openssl speed: sign {speed.SignsPerSecond:F0}/s verify {speed.VerifiesPerSecond:F0}/s ecdh {speed.EcdhPerSecond:F0}/s");
        }

        var inProcess = Runs("inproc") && options.InProcessSeconds > 0 ? HandshakeBench.Measure(options.InProcessSeconds) : [];
        var retained = inProcess.Count > 0 ? HandshakeBench.RetainedPerSession(LibrarySessions) : null;
        var bcInProcess = Runs("bc-inproc") && options.InProcessSeconds > 0 ? BcInProcessBench.Measure(options.InProcessSeconds) : null;
        if (bcInProcess is not null)
        {
            Console.Error.WriteLine($"BouncyCastle in-process: {bcInProcess.Count} handshakes, server side {bcInProcess.ServerPerSecond:F0} per CPU-second");
        }

        using var ecdsaContext = BenchDtlsClient.CreateContext("ECDHE-ECDSA-AES128-GCM-SHA256");
        using var pskContext = BenchDtlsClient.CreateContext("ECDHE-PSK-AES128-CBC-SHA256");
        var ecdsa = new Kind("ECDHE-ECDSA P-256 (tenant certificate, SNI)", ecdsaContext, options.ServerName, null);
        var psk = new Kind("ECDHE-PSK P-256", pskContext, null, options.Psk);
        using var echoContext = BenchDtlsClient.CreateContext(options.EchoSuite);
        var forward = new Kind($"ECDHE-PSK P-256 (forward tenant, {options.EchoSuite})", echoContext, null, options.ForwardPsk);
        foreach (var kind in new[] { psk, ecdsa, forward })
        {
            await WaitForGatewayAsync(options, kind);
        }

        // Warm-up (JIT, pools, leases), then the measured runs.
        var handshakes = new List<HandshakeResult>();
        if (Runs("handshakes"))
        {
            await WarmUpHandshakesAsync(options, psk, ecdsa);
            handshakes.Add(await MeasureHandshakesAsync(options, ecdsa, TimeSpan.FromSeconds(options.HandshakeSeconds)));
            handshakes.Add(await MeasureHandshakesAsync(options, psk, TimeSpan.FromSeconds(options.HandshakeSeconds)));
        }

        var lights = new List<(int Loops, HandshakeResult Result)>();
        if (Runs("handshakes-light"))
        {
            using var lightContext = LightHandshakes.CreateContext(options.Psk);
            await WaitForLightAsync(options, lightContext);
            MeasureLight(options, lightContext, options.LightConcurrency, TimeSpan.FromSeconds(2));
            foreach (var loops in options.LightCompare > 0 ? [options.LightCompare, options.LightConcurrency] : new[] { options.LightConcurrency })
            {
                lights.Add((loops, MeasureLight(options, lightContext, loops, TimeSpan.FromSeconds(options.HandshakeSeconds))));
            }
        }

        var light = lights.Count > 0 ? lights[^1].Result : null;

        HandshakeResult? bcHandshakes = null;
        using var directory = options is { Silo: { } silo, OperatorKey: { } key } ? new GatewayDirectory(silo, key, options.TenantSlug, options.Server.Port) : null;
        if (Runs("bc-handshakes") || Runs("bc-idle"))
        {
            await WaitForBcAsync(options, directory);
        }

        if (Runs("bc-handshakes"))
        {
            await MeasureBcHandshakesAsync(options, TimeSpan.FromSeconds(2));
            bcHandshakes = await MeasureBcHandshakesAsync(options, TimeSpan.FromSeconds(options.HandshakeSeconds));
        }

        var echo = Runs("echo") ? await MeasureEchoAsync(options, forward, backend) : null;
        var idle = Runs("idle") ? await MeasureIdleAsync(options, BenchEngine.OpenSsl, directory) : null;
        var bcIdle = Runs("bc-idle") ? await MeasureIdleAsync(options, BenchEngine.BouncyCastle, directory) : null;

        if (speed is not null)
        {
            Line("");
            Line($"openssl speed -seconds {options.SpeedSeconds} ecdsap256 ecdhp256 ({speed.Version}; per CPU-second of one thread):");
            Line("");
            Line("| operation | ops/s |");
            Line("|---|---|");
            Line($"| ECDSA P-256 sign | {speed.SignsPerSecond:F0} |");
            Line($"| ECDSA P-256 verify | {speed.VerifiesPerSecond:F0} |");
            Line($"| ECDH P-256 | {speed.EcdhPerSecond:F0} |");
            Line($"| ideal ECDHE-ECDSA server handshakes (1 sign + 1 ECDH) | {speed.IdealEcdsaHandshakesPerSecond:F0} |");
            Line($"| ideal ECDHE-PSK server handshakes (1 ECDH) | {speed.IdealPskHandshakesPerSecond:F0} |");
        }

        if (handshakes.Count > 0)
        {
            Line("");
            Line($"Full handshakes against the gateway process{label}, {options.Concurrency} concurrent client loops, {options.HandshakeSeconds:F0} s each, fresh session each (no resumption), close_notify after:");
            Line("");
            Line("| suite | handshakes | failed | handshakes/s | p50 / p99 ms | gateway CPU ms per handshake | handshakes per gateway CPU-second | gateway cores busy (CPU-s per s) | fraction of the ideal | client CPU ms per handshake |");
            Line("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var (result, ideal) in new[] { (handshakes[0], speed?.IdealEcdsaHandshakesPerSecond), (handshakes[1], speed?.IdealPskHandshakesPerSecond) })
            {
                var fraction = ideal is { } i ? (result.PerCpuSecond / i).ToString("P1", CultureInfo.InvariantCulture) : "-";
                Line($"| {result.Name} | {result.Count} | {result.Failed} | {result.PerSecond:F0} | {result.P50:F1} / {result.P99:F1} | {result.CpuMsEach:F2} | {result.PerCpuSecond:F0} | {result.CpuSeconds / result.Seconds:F2} | {fraction} | {result.ClientCpuMsEach:F2} |");
            }
        }

        if (light is not null)
        {
            Line("");
            Line($"Light full handshakes against the gateway process{label}: plain PSK ({LightHandshakes.Suite}, no ECDHE on either side), each row's client loops (handshakes in flight) on at most {options.LightThreads} event-loop threads (poll, non-blocking sockets, OpenSSL on memory BIOs), each loop one UDP socket from its own source address reused for every handshake, and one SSL object per loop, cleared and without a session between handshakes (no resumption), close_notify after, {options.HandshakeSeconds:F0} s; client CPU = the whole harness process (utime + stime), c/g = client CPU per handshake over the gateway's:");
            Line("");
            Line("| suite | client loops | handshakes | failed | handshakes/s | p50 / p99 ms | gateway CPU ms per handshake (g) | handshakes per gateway CPU-second | gateway cores busy (CPU-s per s) | client CPU ms per handshake (c) | of which user mode | of which the loop threads | c/g | client cores busy |");
            Line("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var (loops, row) in lights)
            {
                Line($"| {row.Name} | {loops} | {row.Count} | {row.Failed} | {row.PerSecond:F0} | {row.P50:F2} / {row.P99:F2} | {row.CpuMsEach:F3} | {row.PerCpuSecond:F0} | {row.CpuSeconds / row.Seconds:F2} | {row.ClientCpuMsEach:F3} | {row.ClientUserSeconds * 1000 / Math.Max(1, row.Count):F3} | {row.ThreadCpuSeconds * 1000 / Math.Max(1, row.Count):F3} | {row.ClientCpuMsEach / Math.Max(1e-9, row.CpuMsEach):F2} | {row.ClientCpuSeconds / row.Seconds:F2} |");
            }

            var ratio = light.ClientCpuMsEach / Math.Max(1e-9, light.CpuMsEach);
            Line("");
            Line($"With clients and gateway on the same two cores, the two-core rate can be at most 2 / (1 + c/g) = {2 / (1 + ratio):F2} times the rate of the gateway alone on one core (clients on another); 1.7 needs c/g <= 0.18.");
            Line("");
            Line($"Busiest gateway threads over the last row's run (thread name, CPU-s per s; a port serialized on one thread would show one near 1.00): {light.BusiestThreads}.");
        }

        if (bcHandshakes is not null)
        {
            var library = bcInProcess?.ServerPerSecond;
            Line("");
            Line($"BouncyCastle sessions against the gateway process{label}: BouncyCastle clients offering {options.BcFeatures} (ECDHE-PSK AES128-CBC-SHA256, P-256 only), {options.Concurrency} concurrent client threads, {options.HandshakeSeconds:F0} s, fresh session each, close_notify after; every counted handshake was given a connection ID, which only the gateway's BouncyCastle engine issues:");
            Line("");
            Line("| suite | handshakes | failed | handshakes/s | p50 / p99 ms | gateway CPU ms per handshake | handshakes per gateway CPU-second | gateway cores busy (CPU-s per s) | BouncyCastle alone, server handshakes per CPU-second (same run) | fraction of the library's rate | client CPU ms per handshake |");
            Line("|---|---|---|---|---|---|---|---|---|---|---|");
            var bc = bcHandshakes;
            Line($"| {bc.Name} | {bc.Count} | {bc.Failed} | {bc.PerSecond:F0} | {bc.P50:F1} / {bc.P99:F1} | {bc.CpuMsEach:F2} | {bc.PerCpuSecond:F0} | {bc.CpuSeconds / bc.Seconds:F2} | {(library is { } l ? l.ToString("F0", CultureInfo.InvariantCulture) : "-")} | {(library is { } f ? (bc.PerCpuSecond / f).ToString("P1", CultureInfo.InvariantCulture) : "-")} | {bc.ClientCpuMsEach:F2} |");
        }
        else if (bcInProcess is not null)
        {
            Line("");
            Line($"BouncyCastle alone, in-process ({bcInProcess.Count} ECDHE-PSK P-256 handshakes, client and server on two threads, datagrams in memory, cookie exchange included): {bcInProcess.ServerPerSecond:F0} server handshakes per CPU-second of the server thread.");
        }

        if (inProcess.Count > 0)
        {
            Line("");
            Line($"In-process library (client and server SSL objects on one thread, datagrams in memory, {options.InProcessSeconds:F0} s each; server rate = handshakes per CPU-second of thread time in the server's calls):");
            Line("");
            Line("| suite | handshakes | server handshakes/s | fraction of the ideal |");
            Line("|---|---|---|---|");
            foreach (var result in inProcess)
            {
                // The ideal (from openssl speed) only when the speed phase ran.
                var ideal = speed is null ? "-" : (result.ServerPerSecond / (result.Name.Contains("PSK", StringComparison.Ordinal) ? speed.IdealPskHandshakesPerSecond : speed.IdealEcdsaHandshakesPerSecond)).ToString("P1", CultureInfo.InvariantCulture);
                Line($"| {result.Name} | {result.Count} | {result.ServerPerSecond:F0} | {ideal} |");
            }
        }

        if (echo is not null)
        {
            Line("");
            Line($"Datagrams through `forward`{label} (UDP echo backend in the harness), {echo.Sessions} sessions, closed loop of {EchoPayload} bytes, {options.EchoSeconds:F0} s:");
            Line("");
            Line("| round trips | lost (1 s) | round trips/s | p50 / p99 ms | gateway CPU us per round trip | round trips per gateway CPU-second | backend echoed | harness CPU us per round trip (clients + backend) |");
            Line("|---|---|---|---|---|---|---|---|");
            Line($"| {echo.Count} | {echo.Lost} | {echo.PerSecond:F0} | {echo.P50:F2} / {echo.P99:F2} | {echo.CpuUsEach:F0} | {echo.PerCpuSecond:F0} | {echo.BackendEchoed} | {echo.ClientCpuUsEach:F0} |");
        }

        foreach (var held in new[] { idle, bcIdle })
        {
            if (held is null)
            {
                continue;
            }

            var perSession = (double)Math.Max(1, held.Sessions) * 1024;
            Line("");
            Line($"Idle sessions{label} served by {EngineName(held.Engine)} ({(held.Engine == BenchEngine.BouncyCastle ? "ECDHE-PSK" : options.IdleSuite)}, idle timeout 0) held by {held.Processes} client processes; the directory listed {held.ListedByEngine} of them as served by {EngineName(held.Engine)}:");
            Line("");
            Line($"| sessions | failed | refused, retried | set-up rate /s | gateway RSS before | after | after, settled {options.IdleSettleSeconds:F0} s | per session |");
            Line("|---|---|---|---|---|---|---|---|");
            Line($"| {held.Sessions} | {held.Failed} | {held.Retried} | {held.SetupPerSecond:F0} | {Mib(held.RssBefore)} | {Mib(held.RssAfter)} | {Mib(held.RssSettled)} | {(held.RssSettled - held.RssBefore) / perSession:F1} KiB |");
            if (held.Settle.Count > 0)
            {
                Line("");
                Line("The gateway while the sessions were held (seconds from the directory listing them all; RSS from /proc/PID/status, anonymous and file-backed; the GC's figures from dotnet-counters when installed: committed memory and generation sizes at its last collection, free space inside them, collections and allocations since the first sample):");
                Line("");
                Line("| s | RSS | anon | file | GC committed | gen0 | gen1 | gen2 | LOH | POH | GC free space | GCs gen0/1/2 | allocated |");
                Line("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
                var first = held.Settle[0].Gc;
                foreach (var sample in held.Settle)
                {
                    var gc = sample.Gc is { } v
                        ? $"{Mib(v.Committed)} | {Mib(v.Gen0)} | {Mib(v.Gen1)} | {Mib(v.Gen2)} | {Mib(v.Loh)} | {Mib(v.Poh)} | {Mib(v.Fragmentation)} | {v.Collections.Gen0 - first!.Collections.Gen0}/{v.Collections.Gen1 - first.Collections.Gen1}/{v.Collections.Gen2 - first.Collections.Gen2} | {Mib(v.Allocated - first.Allocated)}"
                        : "| | | | | | | |";
                    Line($"| {sample.Seconds:F0} | {Mib(sample.Rss)} | {Mib(sample.RssAnon)} | {Mib(sample.RssFile)} | {gc} |");
                }
            }

            if (held is { HeapBefore: { } heapBefore, HeapAfter: { } heapAfter })
            {
                Line("");
                Line($"Gateway live managed heap (dotnet-gcdump, after a full GC): {Mib(heapBefore.Bytes)} before, {Mib(heapAfter.Bytes)} with the sessions held = {(heapAfter.Bytes - heapBefore.Bytes) / perSession:F1} KiB per session. Gateway RSS after that GC: {Mib(held.RssAfterGc)}.");
                Line("");
                Line("Managed objects per held session (dotnet-gcdump report: object size times count, growth per type divided by the sessions; the largest first; every type that grew by 8 bytes per session or more):");
                Line("");
                Line("| type | bytes per session | objects per session |");
                Line("|---|---|---|");
                var sessions = Math.Max(1, held.Sessions);
                long listed = 0, rest = 0;
                foreach (var (type, bytes, count) in heapAfter.GrowthOver(heapBefore))
                {
                    if (bytes < 8L * sessions)
                    {
                        rest += bytes;
                        continue;
                    }

                    listed += bytes;
                    Line($"| `{type}` | {(double)bytes / sessions:F0} | {(double)count / sessions:F2} |");
                }

                Line($"| (sum of the rows above; types that grew by less, together) | {(double)listed / sessions:F0}; {(double)rest / sessions:F0} | |");
            }

            if (held is { NativeBefore: { } nativeBefore, NativeAfter: { } nativeAfter })
            {
                Line("");
                Line($"Gateway native heap (glibc malloc_stats() called through gdb; all arenas, mmap included): in use {Mib(nativeBefore.InUse)} before, {Mib(nativeAfter.InUse)} with the sessions held = {(nativeAfter.InUse - nativeBefore.InUse) / perSession:F1} KiB per session; obtained from the system {Mib(nativeBefore.System)} before, {Mib(nativeAfter.System)} with the sessions = {(nativeAfter.System - nativeBefore.System) / perSession:F1} KiB per session; {nativeAfter.Arenas} arenas.");
                if (held.RssAfterTrim > 0)
                {
                    Line($"Gateway RSS after glibc's malloc_trim(0), called through gdb after every figure above: {Mib(held.RssAfterTrim)} ({(held.RssAfterGc - held.RssAfterTrim) / perSession:F1} KiB per session less than after the dump's GC: native heap free but resident).");
                }
            }
        }

        if (retained is { } r)
        {
            Line("");
            Line($"Library alone, in-process (RSS growth over {LibrarySessions} established server SSL objects held, after a full GC): {r.Plain / 1024:F1} KiB per session; {r.ReleaseMode / 1024:F1} KiB with SSL_MODE_RELEASE_BUFFERS; {r.ReleaseModeAfterRead / 1024:F1} KiB with the mode and one SSL_read after the handshake (as the gateway reads); {r.FreedAfterRead / 1024:F1} KiB with the mode, that read and SSL_free_buffers.");
        }

        Console.Error.WriteLine($"load average {ProcessStats.LoadAverage()} at end");
        return handshakes.All(h => h.Count > 0) && lights.All(l => l.Result.Count > 0) && echo is not { Count: 0 } && idle is not { Sessions: 0 } && bcHandshakes is not { Count: 0 } && bcIdle is not { Sessions: 0 } ? 0 : 1;
    }

    private const int EchoPayload = 64;

    /// <summary>The engine's name as the directory shows it.</summary>
    private static string EngineName(BenchEngine engine) => engine == BenchEngine.BouncyCastle ? "bouncycastle" : "openssl";

    private const int LibrarySessions = 5000;

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>Client source addresses: 127.{group}.{hi}.{lo}, so no source has more than one handshake of the harness in flight.</summary>
    public static IPAddress Source(int group, int index) => new([127, (byte)group, (byte)(index / 250), (byte)((index % 250) + 1)]);

    private static async Task WaitForGatewayAsync(GatewayBenchOptions options, Kind kind)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            using var client = kind.Create(options.Server, Source(9, 0));
            try
            {
                await client.HandshakeAsync(TimeSpan.FromSeconds(2));
                Console.Error.WriteLine($"gateway serves {kind.Name}: {client.CipherName()}");
                client.Close();
                return;
            }
            catch (Exception ex) when (ex is IOException or TimeoutException)
            {
                // The tenant's certificate or PSK may not have reached the gateway yet.
                last = ex;
                await Task.Delay(500);
            }
        }

        throw new InvalidOperationException($"the gateway did not complete a {kind.Name} handshake within 90 s: {last?.Message}");
    }

    /// <summary>
    /// Waits until the gateway serves a BouncyCastle session for the bench tenant (its config reaches the gateway after
    /// the tenant's creation), and checks that it was given a connection ID and that the directory lists it as served
    /// by BouncyCastle.
    /// </summary>
    private static async Task WaitForBcAsync(GatewayBenchOptions options, GatewayDirectory? directory)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            BenchBcClient client;
            try
            {
                client = await Task.Run(() => BenchBcClient.Connect(options.Server, Source(9, 1), options.ServerName, options.Psk, options.BcFeatures, crypto, TimeSpan.FromSeconds(5)));
            }
            catch (IOException ex)
            {
                last = ex;
                await Task.Delay(500);
                continue;
            }

            using (client)
            {
                if (options.BcFeatures.HasFlag(BenchBcFeatures.ConnectionId) && !client.HasConnectionId)
                {
                    var listed = directory is null ? "" : $" (the directory lists {await directory.WaitForOpenAsync("openssl", 1, TimeSpan.FromSeconds(30))} open OpenSSL and {await directory.CountOpenAsync("bouncycastle")} open BouncyCastle sessions)";
                    throw new InvalidOperationException($"the gateway completed the handshake without a connection ID: not served by its BouncyCastle engine{listed}");
                }

                if (directory is not null)
                {
                    var listed = await directory.WaitForOpenAsync("bouncycastle", 1, TimeSpan.FromSeconds(60));
                    if (listed < 1)
                    {
                        throw new InvalidOperationException("the directory does not list the session as served by bouncycastle");
                    }
                }

                Console.Error.WriteLine($"gateway serves BouncyCastle sessions (suite 0x{client.CipherSuite:x4}, connection ID {client.HasConnectionId}){(directory is null ? "" : "; the directory says bouncycastle")}");
                client.Close();
                return;
            }
        }

        throw new InvalidOperationException($"the gateway did not complete a BouncyCastle handshake within 90 s: {last?.Message}");
    }

    /// <summary>
    /// BouncyCastle client handshakes against the gateway, on one thread per loop (the client API blocks); a handshake
    /// without a connection ID (when one was offered) is not counted and fails the run, as it was not served by BC.
    /// </summary>
    private static async Task<HandshakeResult> MeasureBcHandshakesAsync(GatewayBenchOptions options, TimeSpan duration)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var failed = 0;
        var withoutCid = 0;
        var reasons = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var cpuBefore = ProcessStats.CpuSeconds(options.GatewayPids);
        var clientCpuBefore = Environment.CpuUsage.TotalTime;
        var wall = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, options.Concurrency).Select(i => Task.Factory.StartNew(() =>
        {
            var latencies = new List<double>();
            while (Stopwatch.GetTimestamp() < end)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var client = BenchBcClient.Connect(options.Server, Source(12, i), options.ServerName, options.Psk, options.BcFeatures, crypto, HandshakeTimeout);
                    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (options.BcFeatures.HasFlag(BenchBcFeatures.ConnectionId) && !client.HasConnectionId)
                    {
                        Interlocked.Increment(ref withoutCid);
                    }
                    else
                    {
                        latencies.Add(elapsed);
                    }

                    client.Close();
                }
                catch (IOException ex)
                {
                    Interlocked.Increment(ref failed);
                    reasons.AddOrUpdate(ex.Message, 1, static (_, n) => n + 1);
                }
            }

            return latencies;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();
        var all = (await Task.WhenAll(loops)).SelectMany(l => l).Order().ToList();
        wall.Stop();
        var cpu = ProcessStats.CpuSeconds(options.GatewayPids) - cpuBefore;
        var clientCpu = (Environment.CpuUsage.TotalTime - clientCpuBefore).TotalSeconds;
        foreach (var (reason, n) in reasons)
        {
            Console.Error.WriteLine($"  {n} x {reason}");
        }

        if (withoutCid > 0)
        {
            throw new InvalidOperationException($"{withoutCid} handshakes completed without a connection ID: not served by the gateway's BouncyCastle engine");
        }

        var result = new HandshakeResult("BouncyCastle ECDHE-PSK P-256 (" + options.BcFeatures + ")", all.Count, failed, wall.Elapsed.TotalSeconds, cpu, clientCpu, Percentile(all, 0.5), Percentile(all, 0.99));
        Console.Error.WriteLine($"{result.Name}: {result.Count} handshakes ({failed} failed) in {result.Seconds:F1} s = {result.PerSecond:F0}/s; gateway CPU {cpu:F2} s = {result.PerCpuSecond:F0} per CPU-second");
        return result;
    }

    /// <summary>Waits until the gateway completes a plain-PSK handshake and checks it negotiated that suite.</summary>
    private static async Task WaitForLightAsync(GatewayBenchOptions options, SslContextHandle context)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var suite = await Task.Run(() => LightHandshakes.Probe(context, options.Server, Source(9, 2), TimeSpan.FromSeconds(2)));
                if (suite != LightHandshakes.Suite)
                {
                    throw new InvalidOperationException($"the gateway negotiated {suite}, not {LightHandshakes.Suite}");
                }

                Console.Error.WriteLine($"gateway serves plain PSK: {suite}");
                return;
            }
            catch (IOException ex)
            {
                last = ex;
                await Task.Delay(500);
            }
        }

        throw new InvalidOperationException($"the gateway did not complete a {LightHandshakes.Suite} handshake within 90 s: {last?.Message}");
    }

    private static HandshakeResult MeasureLight(GatewayBenchOptions options, SslContextHandle context, int loops, TimeSpan duration)
    {
        var threadsBefore = ProcessStats.ThreadCpuSeconds(options.GatewayPids);
        var cpuBefore = ProcessStats.CpuSeconds(options.GatewayPids);
        var run = LightHandshakes.Run(context, options.Server, loops, options.LightThreads, 13, duration, HandshakeTimeout);
        var cpu = ProcessStats.CpuSeconds(options.GatewayPids) - cpuBefore;
        var busiest = ProcessStats.BusiestThreads(threadsBefore, ProcessStats.ThreadCpuSeconds(options.GatewayPids), run.Seconds, 6);
        foreach (var (reason, n) in run.Reasons)
        {
            Console.Error.WriteLine($"  {n} x {reason}");
        }

        var all = run.SortedLatenciesMs;
        var result = new HandshakeResult($"{LightHandshakes.Suite} (plain PSK)", run.Count, run.Failed, run.Seconds, cpu, run.ClientCpuSeconds, Percentile(all, 0.5), Percentile(all, 0.99), run.ThreadCpuSeconds) { BusiestThreads = busiest, ClientUserSeconds = run.ClientUserSeconds };
        Console.Error.WriteLine($"{result.Name}, {loops} client loops: {result.Count} handshakes ({run.Failed} failed) in {result.Seconds:F1} s = {result.PerSecond:F0}/s; gateway CPU {cpu:F2} s = {result.CpuMsEach:F3} ms each; client CPU {run.ClientCpuSeconds:F2} s = {result.ClientCpuMsEach:F3} ms each");
        return result;
    }

    /// <summary>
    /// Rounds of 2 s per suite until the gateway's tiered compilation has settled: a fresh gateway keeps recompiling its
    /// hot methods at higher tiers for tens of seconds (on a busy machine up to a third of its CPU), a one-time cost
    /// that does not belong in a per-handshake figure (the in-process rate has no such start either). Settled means
    /// the tiered-compilation thread used under 2 % of the gateway's CPU in the last round; at most 15 rounds.
    /// </summary>
    private static async Task WarmUpHandshakesAsync(GatewayBenchOptions options, params Kind[] kinds)
    {
        for (var round = 1; ; round++)
        {
            var jitBefore = TieredCompilationThreads(options.GatewayPids);
            var cpuBefore = ProcessStats.CpuSeconds(options.GatewayPids);
            foreach (var kind in kinds)
            {
                await MeasureHandshakesAsync(options, kind, TimeSpan.FromSeconds(2));
            }

            var jit = TieredCompilationSince(options.GatewayPids, jitBefore);
            var cpu = ProcessStats.CpuSeconds(options.GatewayPids) - cpuBefore;
            Console.Error.WriteLine($"warm-up round {round}: gateway CPU {cpu:F2} s, of it tiered compilation {jit:F2} s");
            if (jit < 0.02 * cpu || round == 15)
            {
                return;
            }
        }
    }

    /// <summary>CPU seconds of each of the runtime's tiered-compilation threads in the gateway processes.</summary>
    private static Dictionary<string, double> TieredCompilationThreads(IReadOnlyList<int> pids) =>
        ProcessStats.ThreadCpuSeconds(pids).Where(t => t.Key.Contains(".NET Tiered Com", StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);

    /// <summary>
    /// CPU seconds the tiered-compilation threads used since <paramref name="before"/>: the runtime ends its
    /// compilation thread when idle and starts a new one later, so each thread counts from its own first sight
    /// (a thread that ended in between is missed for the part after the first snapshot).
    /// </summary>
    private static double TieredCompilationSince(IReadOnlyList<int> pids, Dictionary<string, double> before) =>
        TieredCompilationThreads(pids).Sum(t => t.Value - before.GetValueOrDefault(t.Key));

    private static async Task<HandshakeResult> MeasureHandshakesAsync(GatewayBenchOptions options, Kind kind, TimeSpan duration)
    {
        var jitBefore = TieredCompilationThreads(options.GatewayPids);
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var failed = 0;
        var reasons = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var cpuBefore = ProcessStats.CpuSeconds(options.GatewayPids);
        var clientCpuBefore = Environment.CpuUsage.TotalTime;
        var wall = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, options.Concurrency).Select(i => Task.Run(async () =>
        {
            var latencies = new List<double>();
            while (Stopwatch.GetTimestamp() < end)
            {
                var started = Stopwatch.GetTimestamp();
                using var client = kind.Create(options.Server, Source(10, i));
                try
                {
                    await client.HandshakeAsync(HandshakeTimeout);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    client.Close();
                }
                catch (Exception ex) when (ex is IOException or TimeoutException)
                {
                    // Refused handshakes (an alert) and lost flights (a timeout) count as failures, by reason.
                    Interlocked.Increment(ref failed);
                    reasons.AddOrUpdate(ex.Message, 1, static (_, n) => n + 1);
                }
            }

            return latencies;
        })).ToList();
        var all = (await Task.WhenAll(loops)).SelectMany(l => l).Order().ToList();
        wall.Stop();
        var cpu = ProcessStats.CpuSeconds(options.GatewayPids) - cpuBefore;
        var clientCpu = (Environment.CpuUsage.TotalTime - clientCpuBefore).TotalSeconds;
        var result = new HandshakeResult(kind.Name, all.Count, failed, wall.Elapsed.TotalSeconds, cpu, clientCpu, Percentile(all, 0.5), Percentile(all, 0.99));
        foreach (var (reason, n) in reasons)
        {
            Console.Error.WriteLine($"  {n} x {reason}");
        }

        var jit = TieredCompilationSince(options.GatewayPids, jitBefore);
        Console.Error.WriteLine($"{kind.Name}: {result.Count} handshakes ({failed} failed) in {result.Seconds:F1} s = {result.PerSecond:F0}/s; gateway CPU {cpu:F2} s (tiered compilation {jit:F2} s) = {result.PerCpuSecond:F0} per CPU-second");
        return result;
    }

    private static async Task<EchoResult> MeasureEchoAsync(GatewayBenchOptions options, Kind kind, UdpEchoBackend backend)
    {
        var clients = new List<BenchDtlsClient>();
        try
        {
            for (var i = 0; i < options.EchoSessions; i++)
            {
                var client = kind.Create(options.Server, Source(11, i));
                clients.Add(client);
                await client.HandshakeAsync(TimeSpan.FromSeconds(10));
            }

            // Warm-up, then the measured run on the same sessions.
            await EchoLoopsAsync(clients, TimeSpan.FromSeconds(2));
            var echoedBefore = backend.Echoed;
            var cpuBefore = ProcessStats.CpuSeconds(options.GatewayPids);
            var clientCpuBefore = Environment.CpuUsage.TotalTime;
            var wall = Stopwatch.StartNew();
            var (latencies, lost) = await EchoLoopsAsync(clients, TimeSpan.FromSeconds(options.EchoSeconds));
            wall.Stop();
            var cpu = ProcessStats.CpuSeconds(options.GatewayPids) - cpuBefore;
            var clientCpu = (Environment.CpuUsage.TotalTime - clientCpuBefore).TotalSeconds;
            var result = new EchoResult(clients.Count, latencies.Count, lost, wall.Elapsed.TotalSeconds, cpu, clientCpu, Percentile(latencies, 0.5), Percentile(latencies, 0.99), backend.Echoed - echoedBefore);
            Console.Error.WriteLine($"forward echo: {result.Count} round trips ({lost} lost) in {result.Seconds:F1} s = {result.PerSecond:F0}/s; gateway CPU {cpu:F2} s");
            return result;
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Close();
                client.Dispose();
            }
        }
    }

    private static async Task<(List<double> Latencies, int Lost)> EchoLoopsAsync(List<BenchDtlsClient> clients, TimeSpan duration)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var lost = 0;
        var loops = clients.Select((client, index) => Task.Run(async () =>
        {
            var latencies = new List<double>();
            var payload = new byte[EchoPayload];
            var reply = new byte[2048];
            var sequence = 0;
            while (Stopwatch.GetTimestamp() < end)
            {
                BitConverter.TryWriteBytes(payload, ++sequence);
                BitConverter.TryWriteBytes(payload.AsSpan(4), index);
                var started = Stopwatch.GetTimestamp();
                client.Send(payload);
                while (true)
                {
                    var length = await client.ReceiveAsync(reply, TimeSpan.FromSeconds(1));
                    if (length < 0)
                    {
                        Interlocked.Increment(ref lost);
                        break;
                    }

                    if (length == 0)
                    {
                        throw new IOException("the gateway closed an echo session");
                    }

                    if (length == EchoPayload && reply.AsSpan(0, EchoPayload).SequenceEqual(payload))
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        break;
                    }

                    // A late reply to a datagram counted as lost: skip it.
                }
            }

            return latencies;
        })).ToList();
        var all = (await Task.WhenAll(loops)).SelectMany(l => l).Order().ToList();
        return (all, lost);
    }

    private static async Task<IdleResult> MeasureIdleAsync(GatewayBenchOptions options, BenchEngine engine, GatewayDirectory? directory)
    {
        // Earlier phases' sessions are closed; let the gateway settle before the baseline.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var heapBefore = options.GcDumpTool is { } tool ? await ManagedHeapAsync(tool, options.GatewayPids[0]) : null;
        var rssBefore = ProcessStats.RssBytes(options.GatewayPids);
        var nativeBefore = await NativeHeap.ReadAsync(options.GatewayPids[0], options.GatewayLog);
        var processes = new List<Process>();
        var self = Environment.GetCommandLineArgs()[0];
        var wall = Stopwatch.StartNew();
        try
        {
            var remaining = options.IdleSessions;
            for (var k = 0; remaining > 0; k++)
            {
                var count = Math.Min(remaining, options.IdlePerProcess);
                remaining -= count;
                var start = new ProcessStartInfo("dotnet")
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                };
                foreach (var argument in new[]
                {
                    self, "hold", "--server", options.Server.ToString(), "--psk", $"{options.Psk.Identity}:{Convert.ToHexString(options.Psk.Key)}",
                    "--count", count.ToString(CultureInfo.InvariantCulture), "--concurrency", options.IdleConcurrency.ToString(CultureInfo.InvariantCulture),
                    "--source-group", ((engine == BenchEngine.BouncyCastle ? 40 : 20) + k).ToString(CultureInfo.InvariantCulture),
                    "--engine", engine == BenchEngine.BouncyCastle ? "bc" : "openssl", "--server-name", options.ServerName,
                    "--features", options.BcFeatures.ToString().Replace(" ", "", StringComparison.Ordinal),
                    "--suite", options.IdleSuite,
                })
                {
                    start.ArgumentList.Add(argument);
                }

                processes.Add(Process.Start(start) ?? throw new InvalidOperationException("hold process did not start"));
            }

            var sessions = 0;
            var failed = 0;
            var retried = 0;
            foreach (var process in processes)
            {
                // "ready <established> <failed> <retried>"
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(10))
                    ?? throw new InvalidOperationException("a hold process ended before it was ready");
                var parts = line.Split(' ');
                if (parts[0] != "ready")
                {
                    throw new InvalidOperationException("hold process: " + line);
                }

                sessions += int.Parse(parts[1], CultureInfo.InvariantCulture);
                failed += int.Parse(parts[2], CultureInfo.InvariantCulture);
                retried += int.Parse(parts[3], CultureInfo.InvariantCulture);
            }

            wall.Stop();
            var rssAfter = ProcessStats.RssBytes(options.GatewayPids);

            // Checked once every session is up, before the settle time: which engine served them is a fact of the set-up.
            var listed = -1;
            if (directory is not null)
            {
                // The connection events reach the silo in batches: wait until every held session is listed.
                var engineName = EngineName(engine);
                listed = await directory.WaitForOpenAsync(engineName, sessions, TimeSpan.FromSeconds(120));
                if (listed < sessions)
                {
                    throw new InvalidOperationException($"the directory lists {listed} open sessions served by {engineName} on this gateway, {sessions} were held");
                }
            }

            List<SettleSample> settle = [];
            if (options.IdleSampleSeconds > 0)
            {
                settle = await SettleWatch.HoldAsync(options.GatewayPids[0], options.IdleSettleSeconds, options.IdleSampleSeconds, options.CountersTool);
            }
            else
            {
                await Task.Delay(TimeSpan.FromSeconds(options.IdleSettleSeconds));
            }

            var rssSettled = ProcessStats.RssBytes(options.GatewayPids);
            var heapAfter = options.GcDumpTool is { } tool2 ? await ManagedHeapAsync(tool2, options.GatewayPids[0]) : null;
            var rssAfterGc = ProcessStats.RssBytes(options.GatewayPids);
            var nativeAfter = await NativeHeap.ReadAsync(options.GatewayPids[0], options.GatewayLog);
            // Last, as it changes the gateway: how much of its RSS is native heap glibc holds free.
            var rssAfterTrim = nativeAfter is not null && await NativeHeap.TrimAsync(options.GatewayPids[0]) ? ProcessStats.RssBytes(options.GatewayPids) : 0;
            Console.Error.WriteLine($"idle ({engine}): {sessions} sessions ({failed} failed, {retried} refused and retried) in {wall.Elapsed.TotalSeconds:F1} s; gateway RSS {Mib(rssBefore)} -> {Mib(rssAfter)} -> {Mib(rssSettled)} settled");
            return new IdleResult(engine, listed, sessions, failed, retried, processes.Count, sessions / wall.Elapsed.TotalSeconds, rssBefore, rssAfter, rssSettled, heapBefore, heapAfter, rssAfterGc, nativeBefore, nativeAfter, settle, rssAfterTrim);
        }
        finally
        {
            foreach (var process in processes)
            {
                // End of stdin: the holder sends close_notify on every session and exits.
                process.StandardInput.Close();
            }

            foreach (var process in processes)
            {
                using (process)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                    try
                    {
                        await process.WaitForExitAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        process.Kill();
                    }
                }
            }
        }
    }

    /// <summary>The gateway's live managed heap, in all and per type (dotnet-gcdump forces a full GC to take it), or null.</summary>
    private static async Task<ManagedHeap?> ManagedHeapAsync(string tool, int pid)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "report", "-p", pid.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start);
        if (process is null)
        {
            return null;
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            return null;
        }

        var output = await stdout;
        var errors = await stderr;
        // "10,661,293  GC Heap bytes"
        var total = output.Split('\n').FirstOrDefault(l => l.Contains("GC Heap bytes", StringComparison.Ordinal));
        if (process.ExitCode != 0 || total is null)
        {
            Console.Error.WriteLine($"dotnet-gcdump report failed ({process.ExitCode}): {errors}");
            return null;
        }

        return new ManagedHeap(long.Parse(total.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture), ManagedHeap.ParseTypes(output));
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private sealed record Kind(string Name, SslContextHandle Context, string? ServerName, PskCredentials? Psk)
    {
        public BenchDtlsClient Create(IPEndPoint server, IPAddress source) => new(server, source, Context, ServerName, Psk);
    }

    private sealed record HandshakeResult(string Name, int Count, int Failed, double Seconds, double CpuSeconds, double ClientCpuSeconds, double P50, double P99, double ThreadCpuSeconds = 0)
    {
        /// <summary>The gateway threads that used the most CPU over the run, with their cores busy (light phase only).</summary>
        public string BusiestThreads { get; init; } = "";

        /// <summary>The user-mode part of <see cref="ClientCpuSeconds"/> (light phase only).</summary>
        public double ClientUserSeconds { get; init; }

        public double PerSecond => Count / Seconds;

        public double CpuMsEach => CpuSeconds * 1000 / Math.Max(1, Count);

        public double PerCpuSecond => Count / CpuSeconds;

        public double ClientCpuMsEach => ClientCpuSeconds * 1000 / Math.Max(1, Count);
    }

    private sealed record EchoResult(int Sessions, int Count, int Lost, double Seconds, double CpuSeconds, double ClientCpuSeconds, double P50, double P99, long BackendEchoed)
    {
        public double PerSecond => Count / Seconds;

        public double CpuUsEach => CpuSeconds * 1e6 / Math.Max(1, Count);

        public double ClientCpuUsEach => ClientCpuSeconds * 1e6 / Math.Max(1, Count);

        public double PerCpuSecond => Count / CpuSeconds;
    }

    private sealed record IdleResult(BenchEngine Engine, int ListedByEngine, int Sessions, int Failed, int Retried, int Processes, double SetupPerSecond, long RssBefore, long RssAfter, long RssSettled, ManagedHeap? HeapBefore, ManagedHeap? HeapAfter, long RssAfterGc, NativeHeap.Totals? NativeBefore, NativeHeap.Totals? NativeAfter, List<SettleSample> Settle, long RssAfterTrim);
}

/// <summary>The engine a phase's sessions are meant for.</summary>
internal enum BenchEngine
{
    OpenSsl,
    BouncyCastle,
}

/// <summary>A dotnet-gcdump report: live bytes in all, and bytes and objects per type.</summary>
internal sealed record ManagedHeap(long Bytes, IReadOnlyDictionary<string, (long Bytes, long Count)> Types)
{
    /// <summary>
    /// The per-type lines of <c>dotnet-gcdump report</c>: "  size  count  type [assembly]", where size is the size of one
    /// object of the type (arrays of different lengths are bucketed by size), so a type's bytes are size times count.
    /// </summary>
    public static Dictionary<string, (long Bytes, long Count)> ParseTypes(string report)
    {
        var types = new Dictionary<string, (long Bytes, long Count)>(StringComparer.Ordinal);
        foreach (var line in report.Split('\n'))
        {
            var parts = line.Trim().Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3
                && long.TryParse(parts[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var bytes)
                && long.TryParse(parts[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var count))
            {
                var type = parts[2].Trim();
                types[type] = types.TryGetValue(type, out var seen) ? (seen.Bytes + (bytes * count), seen.Count + count) : (bytes * count, count);
            }
        }

        return types;
    }

    /// <summary>Types that grew since <paramref name="before"/>, by bytes, largest first.</summary>
    public IEnumerable<(string Type, long Bytes, long Count)> GrowthOver(ManagedHeap before) =>
        Types.Select(t =>
        {
            var old = before.Types.TryGetValue(t.Key, out var b) ? b : default;
            return (Type: t.Key, Bytes: t.Value.Bytes - old.Bytes, Count: t.Value.Count - old.Count);
        }).Where(t => t.Bytes > 0).OrderByDescending(t => t.Bytes);
}
