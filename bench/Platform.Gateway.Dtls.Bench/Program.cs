using System.Globalization;
using System.Net;
using Platform.Gateway.Dtls;
using Platform.Gateway.Dtls.Bench;
using Platform.Gateway.Dtls.Tenants;

// Usage:
//   serve <port> <pem-file> <host-name> <slug> <psk-hex>   echo listener for manual checks with openssl/gnutls
//   serve-like-gateway <port> <pem-file> <host-name> <slug> <psk-hex> <slug2> <psk2-hex>
//                                                          the library's listener alone, set up as the gateway's shared port
//                                                          (receive threads, a socket and a handshake worker per core), echoing,
//                                                          nothing printed per session: `gateway --gateway-pid` measures it
//                                                          as it measures a gateway (infra/bench-dtls.sh --library)
//   handshakes <seconds>                                   in-process full handshakes per second, ECDHE-ECDSA P-256 and ECDHE-PSK
//   retained <count>                                       library memory per held server session: buffers kept, SSL_MODE_RELEASE_BUFFERS,
//                                                          the mode after one SSL_read, and that plus SSL_free_buffers (a process each)
//   retained-one <count> <Keep|ReleaseMode|ReleaseModeAfterRead|FreedAfterRead> [profile]
//                                                          one of those; with "profile", OpenSSL's live heap per allocation site
//   gateway --server HOST:PORT --gateway-pid PID[+PID] --server-name NAME --psk SLUG/ID:HEX --forward-psk SLUG/ID:HEX
//           --echo-port P [--speed-seconds 3] [--inproc-seconds 3] [--concurrency 8] [--light-concurrency 64] [--light-compare N] [--light-threads CPUS] [--seconds 10]
//           [--echo-sessions 16] [--echo-seconds 10] [--idle 10000] [--idle-per-process 5000] [--idle-concurrency 32]
//           [--idle-suite ECDHE-PSK-CHACHA20-POLY1305 (what idle OpenSSL sessions offer)] [--echo-suite ECDHE-PSK-AES128-CBC-SHA256]
//           [--idle-settle 10 (seconds the idle sessions are held before the settled RSS and the heap are read)]
//           [--idle-sample 10 (seconds between samples of the gateway's RSS and GC while the idle sessions are held; 0: none)]
//           [--counters PATH-TO-dotnet-counters (the GC's view in those samples)] [--gcdump PATH-TO-dotnet-gcdump] [--gateway-log PATH (malloc_stats through gdb)] [--label TEXT]
//           [--phases speed,inproc,handshakes,handshakes-light,echo,idle,bc-inproc,bc-handshakes,bc-idle]
//           [--features ConnectionId|Heartbeat|ConnectionId,Heartbeat (what the BouncyCastle clients offer)]
//           [--silo http://HOST:PORT (with PLATFORM_BENCH_OPERATOR_KEY: the directory confirms each session's engine)]
//                                                          the figures against a gateway process (infra/bench-dtls.sh)
//   alloc --server HOST:PORT --psk SLUG/ID:HEX --ws ws://HOST:PORT/t/SLUG/ --metrics http://HOST:PORT/metrics [--messages 20000] [--connections 4]
//                                                          gateway bytes allocated per echoed ws and DTLS message (infra/bench-pump.sh)
//   hold --server HOST:PORT --psk SLUG/ID:HEX --count N --concurrency C --source-group G [--suite S] [--engine openssl|bc --server-name NAME --features F]
//                                                          N idle sessions held until standard input ends (used by gateway);
//                                                          "bc": BouncyCastle clients offering F (served by the gateway's BouncyCastle engine)
var mode = args.Length > 0 ? args[0] : "handshakes";
if (mode is "serve" or "serve-like-gateway")
{
    var likeGateway = mode == "serve-like-gateway";
    var tenants = new List<DtlsTenantSettings>
    {
        new()
        {
            TenantId = "t-" + args[4],
            Slug = args[4],
            CertificatePems = [File.ReadAllText(args[2])],
            HostNames = [args[3]],
            PreSharedKeys = new Dictionary<string, byte[]> { ["dev1"] = Convert.FromHexString(args[5]) },
        },
    };
    if (likeGateway)
    {
        tenants.Add(new DtlsTenantSettings { TenantId = "t-" + args[6], Slug = args[6], PreSharedKeys = new Dictionary<string, byte[]> { ["dev1"] = Convert.FromHexString(args[7]) } });
    }

    var errors = new List<KeyValuePair<string, string>>();
    var directory = DtlsTenantDirectory.Build(tenants, errors);
    foreach (var error in errors)
    {
        Console.WriteLine($"tenant {error.Key}: {error.Value}");
    }

    var listener = new DtlsServerOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1], CultureInfo.InvariantCulture)) };
    if (likeGateway)
    {
        // As the gateway sets up its shared port (Dtls/DtlsListeners.cs, with the default Platform options): receive
        // threads; a socket and a handshake worker per core are the library's defaults already.
        listener.ReceiveThreads = true;
    }

    await using var server = new DtlsServer(listener, directory, new EchoHandler(verbose: !likeGateway));
    server.Start();
    Console.WriteLine($"listening on {server.LocalEndPoint}");
    while (true)
    {
        await Task.Delay(likeGateway ? 10_000 : 2000);
        var c = server.Counters;
        Console.WriteLine($"in={c.DatagramsIn} out={c.DatagramsOut} hvr={c.HelloVerifyRequestsSent} started={c.HandshakesStarted} ok={c.HandshakesCompleted} failed={c.HandshakesFailed} closed={c.SessionsClosed} malformed={c.MalformedDropped} unknown={c.UnknownSessionDropped} internal={c.InternalErrors} sessions={server.SessionCount}");
    }
}

if (mode is "gateway" or "hold" or "alloc")
{
    var named = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 1; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"unexpected argument '{args[i]}'");
            return 2;
        }

        named[args[i][2..]] = args[i + 1];
    }

    string Required(string name) => named.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");
    int Int(string name, int fallback) => named.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
    double Double(string name, double fallback) => named.TryGetValue(name, out var value) ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;
    BenchBcFeatures Features() => named.TryGetValue("features", out var value) ? Enum.Parse<BenchBcFeatures>(value, ignoreCase: true) : BenchBcFeatures.ConnectionId;
    var server = IPEndPoint.Parse(Required("server"));
    var psk = PskCredentials.Parse(Required("psk"));
    if (mode == "alloc")
    {
        return await AllocBench.RunAsync(server, psk, new Uri(Required("ws")), new Uri(Required("metrics")), Int("messages", 20_000), Int("connections", 4));
    }

    if (mode == "hold")
    {
        return named.GetValueOrDefault("engine", "openssl") == "bc"
            ? await HoldSessions.RunBcAsync(server, psk, Required("server-name"), Features(), Int("count", 1000), Int("concurrency", 32), Int("source-group", 40))
            : await HoldSessions.RunAsync(server, psk, named.GetValueOrDefault("suite", "ECDHE-PSK-CHACHA20-POLY1305"), Int("count", 1000), Int("concurrency", 32), Int("source-group", 20));
    }

    return await GatewayBench.RunAsync(new GatewayBenchOptions
    {
        Server = server,
        GatewayPids = [.. Required("gateway-pid").Split('+').Select(p => int.Parse(p, CultureInfo.InvariantCulture))],
        ServerName = Required("server-name"),
        Psk = psk,
        ForwardPsk = PskCredentials.Parse(Required("forward-psk")),
        EchoPort = int.Parse(Required("echo-port"), CultureInfo.InvariantCulture),
        SpeedSeconds = Int("speed-seconds", 3),
        InProcessSeconds = Double("inproc-seconds", 3),
        Concurrency = Int("concurrency", 8),
        LightConcurrency = Int("light-concurrency", 64),
        LightCompare = Int("light-compare", 0),
        LightThreads = Int("light-threads", Environment.ProcessorCount),
        HandshakeSeconds = Double("seconds", 10),
        EchoSessions = Int("echo-sessions", 16),
        EchoSeconds = Double("echo-seconds", 10),
        IdleSessions = Int("idle", 10_000),
        IdlePerProcess = Int("idle-per-process", 5_000),
        IdleConcurrency = Int("idle-concurrency", 32),
        IdleSuite = named.GetValueOrDefault("idle-suite", "ECDHE-PSK-CHACHA20-POLY1305"),
        EchoSuite = named.GetValueOrDefault("echo-suite", "ECDHE-PSK-AES128-CBC-SHA256"),
        IdleSettleSeconds = Double("idle-settle", 10),
        GcDumpTool = named.GetValueOrDefault("gcdump"),
        IdleSampleSeconds = Double("idle-sample", 10),
        CountersTool = named.GetValueOrDefault("counters"),
        GatewayLog = named.GetValueOrDefault("gateway-log"),
        Label = named.GetValueOrDefault("label") ?? "",
        BcFeatures = Features(),
        Silo = named.TryGetValue("silo", out var silo) ? new Uri(silo.TrimEnd('/') + "/") : null,
        OperatorKey = Environment.GetEnvironmentVariable("PLATFORM_BENCH_OPERATOR_KEY"),
        Phases = named.TryGetValue("phases", out var phases) ? new HashSet<string>(phases.Split(','), StringComparer.Ordinal) : new GatewayBenchOptions { Server = server, GatewayPids = [], ServerName = "", Psk = psk, ForwardPsk = psk }.Phases,
    });
}

if (mode == "retained-one")
{
    // "profile": OpenSSL's live allocations per site, to standard error; the hooks go in before any crypto runs.
    var profile = args.Length > 3 && args[3] == "profile";
    if (profile && !OpenSslAllocations.Install())
    {
        Console.Error.WriteLine("CRYPTO_set_mem_functions refused: OpenSSL allocated before the hooks");
        return 1;
    }

    Console.WriteLine(HandshakeBench.RetainedBytesPerSession(int.Parse(args[1], CultureInfo.InvariantCulture), Enum.Parse<HandshakeBench.BufferHandling>(args[2]), profile).ToString(CultureInfo.InvariantCulture));
    return 0;
}

if (mode == "retained")
{
    var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000;
    var r = HandshakeBench.RetainedPerSession(count);
    Console.WriteLine($"{r.Plain / 1024:F1} KiB per server session; {r.ReleaseMode / 1024:F1} KiB with SSL_MODE_RELEASE_BUFFERS; {r.ReleaseModeAfterRead / 1024:F1} KiB with the mode and one SSL_read; {r.FreedAfterRead / 1024:F1} KiB with the mode, the read and SSL_free_buffers");
    return 0;
}

return await HandshakeBench.RunAsync(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10);

/// <summary>Echoes every datagram; <paramref name="verbose"/> prints each session's start and end.</summary>
internal sealed class EchoHandler(bool verbose) : IDtlsSessionHandler
{
    public DtlsAdmission Admit(DtlsSession session) => DtlsAdmission.Accept;

    public void OnSessionOpened(DtlsSession session)
    {
        if (verbose)
        {
            Console.WriteLine($"opened {session.Id} {session.RemoteEndPoint} tenant={session.Tenant?.Slug} sni={session.ServerName} psk={session.PskIdentity} cipher={session.CipherSuite}");
        }
    }

    public void OnDatagram(DtlsSession session, DtlsDatagram datagram)
    {
        session.Send(datagram.Span);
        datagram.Return();
    }

    public void OnSessionClosed(DtlsSession session, DtlsCloseReason reason)
    {
        if (verbose)
        {
            Console.WriteLine($"closed {session.Id} {reason} {session.FailureDetail}");
        }
    }
}
