using System.Net;
using System.Text;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tests.Support;

/// <summary>A connection that records what reaches it; a send may be made to fail or to wait until cancelled.</summary>
internal sealed class ScriptedConnection(string id, TenantRuntime tenant, TimeProvider time)
    : GatewayConnection(id, tenant, "ws", new IPEndPoint(IPAddress.Loopback, 40000), 8080, time)
{
    private readonly List<(string Text, bool IsText)> _received = [];
    private readonly Lock _lock = new();

    /// <summary>Thrown by every send when set.</summary>
    public Exception? SendFails { get; set; }

    /// <summary>Every send waits for its cancellation (a client that stopped reading).</summary>
    public bool Stalled { get; set; }

    public (int Code, string? Reason)? Closed { get; private set; }

    public IReadOnlyList<(string Text, bool IsText)> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        if (SendFails is { } failure)
        {
            throw failure;
        }

        if (Stalled)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        lock (_lock)
        {
            _received.Add((text ? Encoding.UTF8.GetString(payload.Span) : Convert.ToBase64String(payload.Span), text));
        }
    }

    public override void Close(int code, string? reason) => Closed = (code, reason);
}
