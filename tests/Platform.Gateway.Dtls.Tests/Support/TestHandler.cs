using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Records every call; echoes datagrams back when <see cref="Echo"/> is set.</summary>
internal sealed class TestHandler : IDtlsSessionHandler
{
    public bool Echo { get; init; } = true;

    public Func<DtlsSession, DtlsAdmission> Admission { get; set; } = _ => DtlsAdmission.Accept;

    public Channel<DtlsSession> Opened { get; } = Channel.CreateUnbounded<DtlsSession>();

    public Channel<(DtlsSession Session, DtlsCloseReason Reason)> Closed { get; } = Channel.CreateUnbounded<(DtlsSession, DtlsCloseReason)>();

    public ConcurrentQueue<(ulong SessionId, byte[] Data)> Received { get; } = new();

    public int AdmitCalls => _admitCalls;

    private int _admitCalls;

    public DtlsAdmission Admit(DtlsSession session)
    {
        Interlocked.Increment(ref _admitCalls);
        return Admission(session);
    }

    public void OnSessionOpened(DtlsSession session) => Opened.Writer.TryWrite(session);

    public void OnDatagram(DtlsSession session, ReadOnlySpan<byte> datagram)
    {
        Received.Enqueue((session.Id, datagram.ToArray()));
        if (Echo)
        {
            session.Send(datagram);
        }
    }

    public void OnSessionClosed(DtlsSession session, DtlsCloseReason reason) => Closed.Writer.TryWrite((session, reason));
}
