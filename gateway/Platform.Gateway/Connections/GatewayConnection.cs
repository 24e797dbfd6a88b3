using System.Net;
using System.Runtime.CompilerServices;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Gateway.Delivery;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Connections;

/// <summary>
/// One admitted client connection of any protocol: identity, counters, activity clock, and the
/// client-side send and close operations the delivery and the internal API use.
/// </summary>
internal abstract class GatewayConnection : IClientSink
{
    private readonly TimeProvider _time;
    private long _bytesIn;
    private long _bytesOut;
    private long _messagesIn;
    private long _messagesOut;
    private long _lastActivity;
    private long _sendStarted;

    /// <summary>
    /// The directory's view of the counters, kept by the event publisher alone: <see cref="NotListed"/> until the open
    /// event went out, <see cref="Unreported"/> once it did, then a fingerprint of the counters last reported.
    /// </summary>
    private long _reported = NotListed;

    private const long NotListed = long.MinValue;
    private const long Unreported = long.MinValue + 1;

    protected GatewayConnection(string id, TenantRuntime tenant, string protocol, IPEndPoint remote, int localPort, TimeProvider time)
    {
        Id = id;
        Tenant = tenant;
        Protocol = protocol;
        Remote = remote;
        LocalPort = localPort;
        _time = time;
        OpenedAt = time.GetUtcNow();
        _lastActivity = time.GetTimestamp();
    }

    public string Id { get; }

    /// <summary>The tenant as compiled when the connection was admitted.</summary>
    public TenantRuntime Tenant { get; }

    public string Protocol { get; }

    public IPEndPoint Remote { get; private set; }

    /// <summary>Whether <see cref="Remote"/> changed since the connection opened (reported with the counters).</summary>
    public bool Moved { get; private set; }

    public int LocalPort { get; }

    public DateTimeOffset OpenedAt { get; }

    public TlsFacts? Tls { get; init; }

    public WebSocketFacts? WebSocket { get; set; }

    /// <summary>What the tenant's webhook attached when it accepted the connection; null when nothing.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; private set; }

    /// <summary>Where the connection is forwarded (<c>host:port</c>); null when it is not forwarded.</summary>
    public string? ForwardTarget { get; private set; }

    public int? CloseCode { get; private set; }

    public string? CloseReason { get; private set; }

    /// <summary>Time since the last byte in or out.</summary>
    public TimeSpan IdleFor => _time.GetElapsedTime(Volatile.Read(ref _lastActivity));

    /// <summary>How long the send in progress has been waiting for the client; zero when none is pending.</summary>
    public TimeSpan SendPendingFor => Volatile.Read(ref _sendStarted) is var started and not 0 ? _time.GetElapsedTime(started) : TimeSpan.Zero;

    /// <summary>Whether a send to the client is in progress.</summary>
    public bool SendPending => Volatile.Read(ref _sendStarted) != 0;

    /// <summary>Marks the start of a send to the client (one at a time), for the send timeout.</summary>
    protected void BeginSend() => Volatile.Write(ref _sendStarted, Math.Max(1, _time.GetTimestamp()));

    /// <summary>Marks the end of the send started by <see cref="BeginSend"/>.</summary>
    protected void EndSend() => Volatile.Write(ref _sendStarted, 0);

    public void CountIn(int bytes, int messages)
    {
        Interlocked.Add(ref _bytesIn, bytes);
        if (messages != 0)
        {
            Interlocked.Add(ref _messagesIn, messages);
        }

        Volatile.Write(ref _lastActivity, _time.GetTimestamp());
    }

    public void CountOut(int bytes, int messages)
    {
        Interlocked.Add(ref _bytesOut, bytes);
        if (messages != 0)
        {
            Interlocked.Add(ref _messagesOut, messages);
        }

        Volatile.Write(ref _lastActivity, _time.GetTimestamp());
    }

    public ConnectionCounters Counters()
    {
        var idle = IdleFor;
        var remote = Remote;
        return new ConnectionCounters(
            Id,
            Interlocked.Read(ref _bytesIn),
            Interlocked.Read(ref _bytesOut),
            Interlocked.Read(ref _messagesIn),
            Interlocked.Read(ref _messagesOut),
            _time.GetUtcNow() - idle,
            Moved ? remote.Address.ToString() : null,
            Moved ? remote.Port : null);
    }

    /// <summary>The open event is in a batch for the directory: counter reports carry this connection from now on (again, after a re-announce).</summary>
    public void MarkListed() => _reported = Unreported;

    /// <summary>
    /// The counters when they changed since the last report that carried them (and the open event went out before),
    /// else null: an idle connection costs the counter reports nothing. Called by the event publisher alone.
    /// </summary>
    public ConnectionCounters? CountersIfChanged()
    {
        if (_reported == NotListed)
        {
            return null;
        }

        // The activity clock is read first: a count that lands after it changes the next fingerprint, so it is
        // never marked reported without being in a report (at worst it is reported twice).
        var activity = Volatile.Read(ref _lastActivity);
        var remote = Remote;
        var counters = Counters();
        var sum = counters.BytesIn + counters.BytesOut + counters.MessagesIn + counters.MessagesOut;
        var fingerprint = (long)(((ulong)sum * 0x9E3779B97F4A7C15UL) ^ (ulong)activity ^ ((ulong)(uint)RuntimeHelpers.GetHashCode(remote) << 32));
        if (fingerprint is NotListed or Unreported)
        {
            fingerprint = 0;
        }

        if (fingerprint == _reported)
        {
            return null;
        }

        _reported = fingerprint;
        return counters;
    }

    /// <summary>The client now sends from <paramref name="remote"/> (a DTLS session that kept its connection ID).</summary>
    public void MoveRemote(IPEndPoint remote)
    {
        Remote = remote;
        Moved = true;
    }

    public ConnectionOpened OpenedEvent() =>
        new(Id, Tenant.Id, Protocol, Remote.Address.ToString(), Remote.Port, LocalPort, OpenedAt, Tls, WebSocket, Metadata, ForwardTarget);

    /// <summary>Takes the facts the delivery decided (metadata, forward target) for the directory; before the connection is listed.</summary>
    public void Describe(IDelivery delivery)
    {
        Metadata = delivery.Metadata is { Count: > 0 } metadata ? metadata : null;
        ForwardTarget = delivery.ForwardTarget;
    }

    /// <summary>Records the first close cause; later ones do not overwrite it.</summary>
    public bool RecordClose(int code, string? reason)
    {
        if (CloseCode is not null)
        {
            return false;
        }

        CloseCode = code;
        CloseReason = reason;
        return true;
    }

    /// <summary>Sends one message (text or binary) to the client, waiting while the client is slow.</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken);

    /// <summary>Starts closing the connection with a code (WebSocket close code, or a platform code) and reason.</summary>
    public abstract void Close(int code, string? reason);

    /// <summary>
    /// As <see cref="Close"/>, completing when the close has been handed to the client (a WebSocket close frame sent, or
    /// given up on after its grace period); protocols whose close is immediate complete at once.
    /// </summary>
    public virtual Task CloseAsync(int code, string? reason)
    {
        Close(code, reason);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Ends the connection without a closing handshake (the client is not reading, so it could not take
    /// one), recording the code and reason. Protocols without a handshake to skip simply close.
    /// </summary>
    public virtual void Abort(int code, string? reason) => Close(code, reason);
}
