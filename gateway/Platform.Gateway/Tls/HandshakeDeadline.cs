using Microsoft.AspNetCore.Connections;

namespace Platform.Gateway.Tls;

/// <summary>
/// A tenant's own TLS handshake timeout on a shared listener. Kestrel's handshake timeout is one value per
/// listener and is fixed before the ClientHello names a tenant, so it stays the ceiling; once the tenant is
/// known, this aborts the connection if the handshake has not completed within the tenant's (shorter) time.
/// </summary>
internal sealed class HandshakeDeadline : IDisposable
{
    private readonly ITimer _timer;
    private int _settled;

    private HandshakeDeadline(ConnectionContext connection, TimeSpan timeout, TimeProvider time)
    {
        // The timer is created stopped and started after the field is set, so the callback never sees it unset.
        _timer = time.CreateTimer(static state => ((HandshakeDeadline)state!).Expire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Connection = connection;
        _timer.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    private ConnectionContext Connection { get; }

    /// <summary>True once the deadline passed before the handshake completed.</summary>
    public bool Expired { get; private set; }

    /// <summary>Arms a deadline for the connection; it is disarmed by <see cref="Complete"/> or when the connection closes.</summary>
    public static HandshakeDeadline Arm(ConnectionContext connection, TimeSpan timeout, TimeProvider time)
    {
        var deadline = new HandshakeDeadline(connection, timeout, time);
        connection.ConnectionClosed.Register(static d => ((HandshakeDeadline)d!).Dispose(), deadline);
        return deadline;
    }

    /// <summary>The handshake completed: the deadline no longer applies.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _settled, 1) == 0)
        {
            _timer.Dispose();
        }
    }

    public void Dispose() => Complete();

    private void Expire()
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return;
        }

        Expired = true;
        _timer.Dispose();
        Connection.Abort(new ConnectionAbortedException("The tenant's TLS handshake timeout elapsed."));
    }
}
