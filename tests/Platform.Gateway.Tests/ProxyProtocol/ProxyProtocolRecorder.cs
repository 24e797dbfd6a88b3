using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.ProxyProtocol;

/// <summary>Listens to one gateway's PROXY protocol counters: accepted per listener, refused per listener and reason.</summary>
internal sealed class ProxyProtocolRecorder : IDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _counts = [];
    private readonly Lock _lock = new();

    public ProxyProtocolRecorder(TestGateway gateway)
    {
        var factory = gateway.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GatewayMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory)
                && instrument.Name.StartsWith("platform.gateway.proxy_protocol.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? listenerName = null, detail = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "listener")
                {
                    listenerName = tag.Value as string;
                }
                else if (tag.Key is "reason" or "version")
                {
                    detail = tag.Value as string;
                }
            }

            lock (_lock)
            {
                var key = $"{instrument.Name[(instrument.Name.LastIndexOf('.') + 1)..]}/{listenerName}/{detail}";
                _counts[key] = _counts.GetValueOrDefault(key) + value;
            }
        });
        _listener.Start();
    }

    /// <summary>Accepted headers on <paramref name="listener"/> of <paramref name="version"/>.</summary>
    public long Accepted(string listener, int version) => Count($"accepted/{listener}/{version}");

    /// <summary>Refused connections on <paramref name="listener"/> for <paramref name="reason"/>.</summary>
    public long Refused(string listener, string reason) => Count($"refused/{listener}/{reason}");

    public async Task WaitRefusedAsync(string listener, string reason, long atLeast)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (Refused(listener, reason) < atLeast)
        {
            try
            {
                await Task.Delay(20, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"refused/{listener}/{reason} counted {Refused(listener, reason)} times, expected {atLeast}. All: {Describe()}");
            }
        }
    }

    public string Describe()
    {
        lock (_lock)
        {
            return string.Join(", ", _counts.Select(c => $"{c.Key}={c.Value}"));
        }
    }

    public void Dispose() => _listener.Dispose();

    private long Count(string key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key);
        }
    }
}
