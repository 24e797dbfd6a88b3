using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Records every call; echoes datagrams back when <see cref="Echo"/> is set.</summary>
internal sealed class TestHandler : IDtlsSessionHandler
{
    public bool Echo { get; init; } = true;

    public Func<DtlsSession, DtlsAdmission> Admission { get; set; } = _ => DtlsAdmission.Accept;

    /// <summary>Runs for every datagram after it is recorded and before it is echoed.</summary>
    public Action<DtlsSession, byte[]>? BeforeEcho { get; init; }

    public Channel<DtlsSession> Opened { get; } = Channel.CreateUnbounded<DtlsSession>();

    public Channel<(DtlsSession Session, DtlsCloseReason Reason)> Closed { get; } = Channel.CreateUnbounded<(DtlsSession, DtlsCloseReason)>();

    public ConcurrentQueue<(ulong SessionId, byte[] Data)> Received { get; } = new();

    public int AdmitCalls => _admitCalls;

    /// <summary>Handshakes the tenant's half-open caps refused, by tenant id.</summary>
    public ConcurrentDictionary<string, int> HalfOpenLimited { get; } = new(StringComparer.Ordinal);

    private int _admitCalls;

    public DtlsAdmission Admit(DtlsSession session)
    {
        Interlocked.Increment(ref _admitCalls);
        return Admission(session);
    }

    public void OnHalfOpenLimit(DtlsSession session) => HalfOpenLimited.AddOrUpdate(session.Tenant!.TenantId, 1, static (_, n) => n + 1);

    public void OnSessionOpened(DtlsSession session) => Opened.Writer.TryWrite(session);

    public void OnDatagram(DtlsSession session, DtlsDatagram datagram)
    {
        try
        {
            var data = datagram.Span.ToArray();
            Received.Enqueue((session.Id, data));
            BeforeEcho?.Invoke(session, data);
            if (Echo)
            {
                session.Send(datagram.Span);
            }
        }
        finally
        {
            datagram.Return();
        }
    }

    public void OnSessionClosed(DtlsSession session, DtlsCloseReason reason) => Closed.Writer.TryWrite((session, reason));
}
