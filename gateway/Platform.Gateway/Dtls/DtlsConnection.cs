using System.Threading.Channels;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// An established DTLS session as a gateway connection: sends are DTLS records (one datagram each), close is
/// close_notify. Client datagrams wait in a bounded queue for the delivery; the listener's worker never waits on
/// it, so when the delivery falls <see cref="QueueCapacity"/> datagrams behind, further ones are dropped and
/// counted (UDP semantics), instead of stalling the listener.
/// </summary>
internal sealed class DtlsConnection : GatewayConnection, IDisposable
{
    public const int QueueCapacity = 256;

    private readonly DtlsSession _session;
    private readonly CancellationTokenSource _ended = new();
    private readonly Channel<byte[]> _inbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private long _dropped;

    public DtlsConnection(string id, TenantRuntime tenant, DtlsSession session, int localPort, AdmissionTicket ticket, TimeProvider time)
        : base(id, tenant, Contracts.Connections.ConnectionProtocols.Dtls, session.RemoteEndPoint, localPort, time)
    {
        _session = session;
        Ticket = ticket;
    }

    public DtlsSession Session => _session;

    /// <summary>The MaxConnections slot, released when the connection has finished.</summary>
    public AdmissionTicket Ticket { get; }

    /// <summary>Fires when the session has ended, whichever side ended it.</summary>
    public CancellationToken Ended => _ended.Token;

    public ChannelReader<byte[]> Inbound => _inbound.Reader;

    /// <summary>Client datagrams dropped because the delivery was too far behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues one client datagram; called on the listener's worker for this session.</summary>
    public void OnDatagram(ReadOnlySpan<byte> datagram)
    {
        CountIn(datagram.Length, 1);
        if (!_inbound.Writer.TryWrite(datagram.ToArray()))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        switch (_session.Send(payload.Span))
        {
            case DtlsSendResult.Sent:
                CountOut(payload.Length, 1);
                return ValueTask.CompletedTask;
            case DtlsSendResult.TooLarge:
                throw new DatagramTooLargeException(payload.Length, _session.MaxDatagramSize);
            default:
                throw new IOException("The DTLS session is closed.");
        }
    }

    public override void Close(int code, string? reason)
    {
        RecordClose(code, reason);

        // close_notify; the listener then reports the end through the session handler, which sets Ended.
        _session.Close();
    }

    /// <summary>The session ended (called once, from the session handler).</summary>
    public void OnEnded(int code, string reason)
    {
        RecordClose(code, reason);
        _inbound.Writer.TryComplete();
        try
        {
            _ended.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection already finished.
        }
    }

    public void Dispose() => _ended.Dispose();
}

/// <summary>A message longer than one DTLS record within the listener's MTU.</summary>
internal sealed class DatagramTooLargeException(int length, int limit)
    : IOException($"A datagram of {length} bytes exceeds the session's limit of {limit} bytes.")
{
    public int Limit { get; } = limit;
}
