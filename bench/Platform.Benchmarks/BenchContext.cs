using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Plans;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>A running silo of one build on a loopback port over a fresh database, and HTTP clients for it.</summary>
internal sealed class BenchContext(BenchOptions options, TestDatabase database, SiloBuild build, SiloSecrets keys, Uri siloAddress) : IDisposable
{
    private readonly SocketsHttpHandler _handler = new()
    {
        MaxConnectionsPerServer = 256,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    };

    private HttpClient? _operator;
    private HttpClient? _cluster;
    private HttpClient? _anonymous;

    /// <summary>Request bodies follow the platform conventions; responses are read leniently so a new field is no failure.</summary>
    public static JsonSerializerOptions ReadJson { get; } = new(PlatformJson.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    public BenchOptions Options { get; } = options;

    public TestDatabase Database { get; } = database;

    public SiloBuild Build { get; } = build;

    public SiloSecrets Keys { get; } = keys;

    public Uri SiloAddress { get; } = siloAddress;

    public HttpClient Operator => _operator ??= Client(SiloAddress, Keys.OperatorKey);

    public HttpClient Cluster => _cluster ??= Client(SiloAddress, Build.ClusterSecret);

    public HttpClient Anonymous => _anonymous ??= Client(SiloAddress, null);

    /// <summary>A recorder whose figures are labelled with the build they were measured on.</summary>
    public LatencyRecorder Recorder(string what) => new($"{Build.Name,-8} {what}");

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        await EnsureAsync(response, expected, what);
        return await response.Content.ReadFromJsonAsync<T>(ReadJson) ?? throw new BenchmarkFailedException($"{what}: empty body");
    }

    public static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new BenchmarkFailedException(
                $"{what}: expected HTTP {(int)expected}, got {(int)response.StatusCode} {body[..Math.Min(body.Length, 400)]}");
        }
    }

    /// <summary>
    /// A lease sync asking for <paramref name="slots"/> of one tenant, in the shape every silo build accepts (the
    /// fields later gateways add about slots in use are left out, so a previous silo can be measured too).
    /// </summary>
    public static object LeaseRequest(Guid tenantId, int slots) => new { leases = new[] { new { tenantId, slots } } };

    /// <summary>
    /// A gateway registration in the shape of the HTTP builds, which name the gateway's internal URL (later builds
    /// drop that member, so the harness does not construct the record and compiles against either shape).
    /// </summary>
    public static object RegisterRequest(string nodeId, string internalUrl) => new { nodeId, version = "bench", internalUrl, listeners = BenchListeners };

    private static readonly string[] BenchListeners = ["ws:8080"];

    public async Task<TenantResponse> CreateTenantAsync(string slug, TenantConfig? config = null, TenantPlan? plan = null)
    {
        using var response = await Operator.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest(slug, $"Benchmark {slug}", config, plan), PlatformJson.Options);
        return await ReadAsync<TenantResponse>(response, HttpStatusCode.Created, $"POST /v1/tenants ({slug})");
    }

    /// <summary>
    /// Runs <paramref name="operation"/> <paramref name="total"/> times on <paramref name="concurrency"/> workers
    /// (the worker index and the operation index are passed), recording each latency, and stops issuing new
    /// operations when the time limit has passed. First, <paramref name="warmup"/> unrecorded operations
    /// (indexes from <paramref name="total"/> on) take JIT compilation and connection set-up out of the figures.
    /// </summary>
    public async Task RunAsync(LatencyRecorder recorder, int total, int concurrency, Func<int, int, Task> operation, int warmup = 50)
    {
        await RunWorkersAsync(null, total, total + warmup, concurrency, operation);
        recorder.Start();
        await RunWorkersAsync(recorder, 0, total, concurrency, operation);
        recorder.Stop();
        if (recorder.Count < total)
        {
            Console.WriteLine($"  note: time limit {Options.TimeLimit.TotalSeconds:F0} s reached after {recorder.Count} of {total} operations");
        }
    }

    private async Task RunWorkersAsync(LatencyRecorder? recorder, int first, int end, int concurrency, Func<int, int, Task> operation)
    {
        var next = first - 1;
        var deadline = Stopwatch.GetTimestamp() + (long)(Options.TimeLimit.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < end && Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                await operation(worker, index);
                recorder?.Add(Stopwatch.GetElapsedTime(started));
            }
        }));
        await Task.WhenAll(workers);
    }

    public void Dispose()
    {
        _operator?.Dispose();
        _cluster?.Dispose();
        _anonymous?.Dispose();
        _handler.Dispose();
    }

    /// <summary>A client of another silo of the same run (the caller disposes it).</summary>
    public HttpClient Client(Uri siloAddress, string? bearer, TimeSpan? timeout = null)
    {
        var client = new HttpClient(_handler, disposeHandler: false) { BaseAddress = siloAddress, Timeout = timeout ?? TimeSpan.FromSeconds(90) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }
}
