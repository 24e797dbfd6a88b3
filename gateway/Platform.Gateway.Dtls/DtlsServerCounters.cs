namespace Platform.Gateway.Dtls;

/// <summary>Listener-wide counters, safe to read at any time.</summary>
public sealed class DtlsServerCounters
{
    internal long _datagramsIn;
    internal long _datagramsOut;
    internal long _bytesIn;
    internal long _bytesOut;
    internal long _malformedDropped;
    internal long _unknownSessionDropped;
    internal long _helloVerifyRequestsSent;
    internal long _cookieRejected;
    internal long _helloRejectedByEngine;
    internal long _handshakesStarted;
    internal long _handshakesCompleted;
    internal long _handshakesFailed;
    internal long _handshakesTimedOut;
    internal long _refused;
    internal long _unassignedDropped;
    internal long _sessionQueueDropped;
    internal long _deferred;
    internal long _sessionsClosed;
    internal long _oversizedSends;
    internal long _socketErrors;
    internal long _internalErrors;
    internal long _recordProtectionHandedOver;
    internal long _handoverNotCovered;
    internal long _handoverCheckFailed;
    internal long _offloadBadRecords;
    internal long _offloadRecordsDropped;
    internal long _finalFlightsResent;
    internal long _openSslObjectsHeld;

    /// <summary>Datagrams read from the socket.</summary>
    public long DatagramsIn => Interlocked.Read(ref _datagramsIn);

    /// <summary>Datagrams written to the socket.</summary>
    public long DatagramsOut => Interlocked.Read(ref _datagramsOut);

    /// <summary>UDP payload bytes read.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>UDP payload bytes written.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>
    /// Datagrams from unknown addresses that were not DTLS records, had a wrong version or were cut short, and
    /// ClientHellos the cookie layer could not parse (lengths inconsistent, fragmented, cookie or session_id too long).
    /// </summary>
    public long MalformedDropped => Interlocked.Read(ref _malformedDropped);

    /// <summary>Well-formed records from addresses with no session that were not a ClientHello.</summary>
    public long UnknownSessionDropped => Interlocked.Read(ref _unknownSessionDropped);

    /// <summary>HelloVerifyRequests sent (ClientHellos without a valid cookie).</summary>
    public long HelloVerifyRequestsSent => Interlocked.Read(ref _helloVerifyRequestsSent);

    /// <summary>
    /// ClientHellos whose cookie did not verify (made for another address or another hello, under a secret older than
    /// the previous one, or forged); each was answered with a fresh HelloVerifyRequest and is counted there too.
    /// </summary>
    public long CookieRejected => Interlocked.Read(ref _cookieRejected);

    /// <summary>Cookie-verified ClientHellos the chosen engine could not take (its own parser refused them); dropped.</summary>
    public long HelloRejectedByEngine => Interlocked.Read(ref _helloRejectedByEngine);

    /// <summary>Sessions created after a valid cookie.</summary>
    public long HandshakesStarted => Interlocked.Read(ref _handshakesStarted);

    /// <summary>Handshakes that completed.</summary>
    public long HandshakesCompleted => Interlocked.Read(ref _handshakesCompleted);

    /// <summary>Handshakes that failed with an alert or error.</summary>
    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    /// <summary>Handshakes that timed out.</summary>
    public long HandshakesTimedOut => Interlocked.Read(ref _handshakesTimedOut);

    /// <summary>Handshakes refused by a cap, the session limit or the admission callback.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Cookie-verified ClientHellos dropped because <see cref="DtlsServerOptions.MaxUnassignedHandshakes"/> handshakes
    /// were already waiting for a tenant (also counted in <see cref="Refused"/>).
    /// </summary>
    public long UnassignedDropped => Interlocked.Read(ref _unassignedDropped);

    /// <summary>
    /// Datagrams dropped because their session's worker was that far behind (<see cref="DtlsServerOptions.SessionQueueCapacity"/>
    /// or <see cref="DtlsServerOptions.SessionQueueBytes"/>).
    /// </summary>
    public long SessionQueueDropped => Interlocked.Read(ref _sessionQueueDropped);

    /// <summary>Handshakes the admission callback deferred: ended silently, for the client to retry.</summary>
    public long Deferred => Interlocked.Read(ref _deferred);

    /// <summary>Sessions ended for any reason.</summary>
    public long SessionsClosed => Interlocked.Read(ref _sessionsClosed);

    /// <summary>Sends refused because the datagram does not fit one record within the MTU.</summary>
    public long OversizedSends => Interlocked.Read(ref _oversizedSends);

    /// <summary>Socket send or receive errors.</summary>
    public long SocketErrors => Interlocked.Read(ref _socketErrors);

    /// <summary>Unexpected faults caught at the listener boundary.</summary>
    public long InternalErrors => Interlocked.Read(ref _internalErrors);

    /// <summary>
    /// OpenSSL sessions whose record protection the listener took over after the handshake (AEAD suites): their
    /// <c>SSL</c> object was freed once the derived keys had opened both Finished records.
    /// </summary>
    public long RecordProtectionHandedOver => Interlocked.Read(ref _recordProtectionHandedOver);

    /// <summary>OpenSSL sessions that stay on OpenSSL because their suite is not one the listener protects (CBC and others).</summary>
    public long HandoverNotCovered => Interlocked.Read(ref _handoverNotCovered);

    /// <summary>
    /// OpenSSL sessions that stay on OpenSSL because the handover's self-check did not pass: the derived keys did not
    /// open the server's or the client's Finished record, or a record to check was not there (a Finished OpenSSL had
    /// buffered, application data already read).
    /// </summary>
    public long HandoverCheckFailed => Interlocked.Read(ref _handoverCheckFailed);

    /// <summary>Epoch-1 records of handed-over sessions whose authentication tag did not verify; dropped silently (RFC 6347 4.1.2.7).</summary>
    public long OffloadBadRecords => Interlocked.Read(ref _offloadBadRecords);

    /// <summary>
    /// Records of handed-over sessions dropped unopened or unused: replayed or outside the window, another epoch,
    /// plaintext application data, or a content type with no use after the handshake.
    /// </summary>
    public long OffloadRecordsDropped => Interlocked.Read(ref _offloadRecordsDropped);

    /// <summary>Times a handed-over session sent its captured final flight again because the client retransmitted its own.</summary>
    public long FinalFlightsResent => Interlocked.Read(ref _finalFlightsResent);

    /// <summary>OpenSSL <c>SSL</c> objects held by the listener's sessions now (handed-over sessions hold none).</summary>
    public long OpenSslObjectsHeld => Interlocked.Read(ref _openSslObjectsHeld);
}
