using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// Listens to the gateway refusal counter: one gateway's (meters of other gateways in the same test process
/// are told apart by the meter factory that created them), or every gateway's when no factory is given.
/// </summary>
internal sealed class RefusalRecorder : IDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _counts = [];
    private readonly Lock _lock = new();

    public RefusalRecorder(TestGateway gateway)
        : this(gateway.Services.GetRequiredService<IMeterFactory>())
    {
    }

    public RefusalRecorder(IMeterFactory? factory = null)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GatewayMetrics.MeterName && (factory is null || ReferenceEquals(instrument.Meter.Scope, factory))
                && instrument.Name == "platform.gateway.refusals")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? tenant = null, reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "tenant")
                {
                    tenant = tag.Value as string;
                }
                else if (tag.Key == "reason")
                {
                    reason = tag.Value as string;
                }
            }

            lock (_lock)
            {
                var key = $"{tenant}/{reason}";
                _counts[key] = _counts.GetValueOrDefault(key) + value;
            }
        });
        _listener.Start();
    }

    /// <summary>Refusals counted so far for a tenant slug ("" when no tenant was known) and reason (snake case).</summary>
    public long Count(string tenant, string reason)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault($"{tenant}/{reason}");
        }
    }

    /// <summary>Waits until the count reaches <paramref name="atLeast"/>.</summary>
    public async Task WaitForAsync(string tenant, string reason, long atLeast)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (Count(tenant, reason) < atLeast)
        {
            try
            {
                await Task.Delay(20, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Refusal {tenant}/{reason} counted {Count(tenant, reason)} times, expected at least {atLeast}. All: {Describe()}");
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
}
