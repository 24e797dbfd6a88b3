using Org.BouncyCastle.Tls;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// BouncyCastle's <see cref="DefaultTlsHeartbeat"/>, watched: BouncyCastle reads <see cref="IdleMillis"/> whenever it
/// restarts the idle period (at the end of the handshake and when a response arrives) and calls
/// <see cref="GeneratePayload"/> when it sends a request. From those the session knows when BouncyCastle next needs to
/// run (request due, resend due, timeout), so one timer entry per session wakes it then, instead of a poll.
/// </summary>
internal sealed class BcHeartbeat(int idleMillis, int timeoutMillis) : TlsHeartbeat
{
    // BouncyCastle resends an unanswered request after 1 s, doubling up to 60 s (DtlsReliableHandshake's backoff).
    private const long InitialResendMillis = 1000;
    private const long MaxResendMillis = 60_000;

    private readonly DefaultTlsHeartbeat _inner = new(idleMillis, timeoutMillis);
    private readonly Lock _lock = new();
    private long _idleSince = Environment.TickCount64;
    private long _sentAt = -1;
    private long _nextResend;
    private long _resendStep;

    /// <summary>Requests sent (resends not counted).</summary>
    public long RequestsSent { get; private set; }

    /// <summary>Idle periods restarted after an answered request.</summary>
    public long ResponsesReceived { get; private set; }

    public int IdleMillis
    {
        get
        {
            lock (_lock)
            {
                if (_sentAt >= 0)
                {
                    ResponsesReceived++;
                }

                _idleSince = Environment.TickCount64;
                _sentAt = -1;
            }

            return _inner.IdleMillis;
        }
    }

    public int TimeoutMillis => _inner.TimeoutMillis;

    public byte[] GeneratePayload()
    {
        lock (_lock)
        {
            _sentAt = Environment.TickCount64;
            _resendStep = InitialResendMillis;
            _nextResend = _sentAt + _resendStep;
            RequestsSent++;
        }

        return _inner.GeneratePayload();
    }

    /// <summary>Milliseconds (of <see cref="Environment.TickCount64"/>) when BouncyCastle next has heartbeat work.</summary>
    public long NextDue()
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (_sentAt < 0)
            {
                return _idleSince + _inner.IdleMillis;
            }

            // Past resend times have been served by the run that asks: move on along BouncyCastle's backoff.
            while (_nextResend <= now)
            {
                _resendStep = Math.Min(_resendStep * 2, MaxResendMillis);
                _nextResend += _resendStep;
            }

            return Math.Min(_nextResend, _sentAt + _inner.TimeoutMillis);
        }
    }
}
