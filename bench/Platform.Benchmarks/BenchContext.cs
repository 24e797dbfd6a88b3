using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>A running silo on a loopback port over a fresh database, and HTTP clients for it.</summary>
internal sealed class BenchContext(BenchOptions options, TestDatabase database, SiloApp silo) : IDisposable
{
    private readonly SocketsHttpHandler _handler = new()
    {
        MaxConnectionsPerServer = 256,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Request bodies follow the platform conventions; responses are read leniently so a new field is no failure.</summary>
    public static JsonSerializerOptions ReadJson { get; } = new(PlatformJson.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    public BenchOptions Options { get; } = options;

    public TestDatabase Database { get; } = database;

    public SiloApp Silo { get; } = silo;

    public HttpClient Operator => field ??= Client(Silo.OperatorKey);

    public HttpClient Cluster => field ??= Client(Silo.ClusterSecret);

    public HttpClient Anonymous => field ??= Client(null);

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

    public async Task<TenantResponse> CreateTenantAsync(string slug, TenantConfig? config = null)
    {
        using var response = await Operator.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest(slug, $"Benchmark {slug}", config), PlatformJson.Options);
        return await ReadAsync<TenantResponse>(response, HttpStatusCode.Created, $"POST /v1/tenants ({slug})");
    }

    /// <summary>
    /// Runs <paramref name="operation"/> <paramref name="total"/> times on <paramref name="concurrency"/> workers
    /// (the worker index and the operation index are passed), recording each latency, and stops issuing new
    /// operations when the time limit has passed.
    /// </summary>
    public async Task RunAsync(LatencyRecorder recorder, int total, int concurrency, Func<int, int, Task> operation)
    {
        var next = -1;
        var deadline = Stopwatch.GetTimestamp() + (long)(Options.TimeLimit.TotalSeconds * Stopwatch.Frequency);
        recorder.Start();
        var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < total && Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                await operation(worker, index);
                recorder.Add(Stopwatch.GetElapsedTime(started));
            }
        }));
        await Task.WhenAll(workers);
        recorder.Stop();
        if (recorder.Count < total)
        {
            Console.WriteLine($"  note: time limit {Options.TimeLimit.TotalSeconds:F0} s reached after {recorder.Count} of {total} operations");
        }
    }

    public void Dispose()
    {
        Operator.Dispose();
        Cluster.Dispose();
        Anonymous.Dispose();
        _handler.Dispose();
    }

    private HttpClient Client(string? bearer)
    {
        var client = new HttpClient(_handler, disposeHandler: false) { BaseAddress = Silo.BaseAddress, Timeout = TimeSpan.FromSeconds(90) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }
}
