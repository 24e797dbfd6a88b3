namespace Platform.Gateway.Dtls;

public sealed partial class DtlsSession
{
    /// <summary>The session's place in its server's <see cref="DtlsTimerQueue"/>, or -1; written only under the queue's lock.</summary>
    internal int TimerSlot = -1;
}
