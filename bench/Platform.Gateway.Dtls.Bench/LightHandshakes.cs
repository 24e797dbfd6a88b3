using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// A load generator for full DTLS 1.2 handshakes that costs the client little next to the gateway: plain PSK
/// (<c>PSK-AES128-CCM8</c>, the CoAP suite of RFC 7252, which the gateway offers), so the client does no public-key
/// work at all, and one SSL object per loop serves all its handshakes (SSL_clear between them). A few threads (<c>--light-threads</c>) each drive several client loops as an event loop: one
/// <c>poll</c> for all of a thread's sockets, non-blocking <c>recv</c>/<c>send</c> on them, OpenSSL on memory BIOs
/// (no managed callback per record, no socket option calls per read), each flight's records packed into one
/// datagram as the gateway does. So under load a wake-up serves several sockets and a handshake costs the client
/// about seven syscalls. Each loop keeps one UDP socket (one source address and port) for all its handshakes, its SSL
/// object cleared and its session dropped before each (no session is offered, so no resumption; a resumed one would
/// fail the handshake's count), closed with close_notify before the next ClientHello
/// from the same port. The gateway takes that ClientHello as a new client: after close_notify the session is gone,
/// and while it is still being closed a cookie-verified epoch-0 ClientHello replaces it (RFC 6347 4.2.8).
/// </summary>
internal static unsafe partial class LightHandshakes
{
    public const string Suite = "PSK-AES128-CCM8";

    private const int Mtu = 1200;
    private const short PollIn = 1;
    private const int MsgDontWait = 0x40;
    private const int RecordHeader = 13;

    // The one PSK identity of a run, for OpenSSL's client callback (set before any loop starts, then only read).
    private static byte[] s_identity = [0];
    private static byte[] s_key = [];

    /// <summary>The result of one timed run.</summary>
    public sealed record Result(int Count, int Failed, double Seconds, double ClientCpuSeconds, double ClientUserSeconds, double ThreadCpuSeconds, List<double> SortedLatenciesMs, IReadOnlyDictionary<string, int> Reasons);

    /// <summary>A client context offering only <see cref="Suite"/>, with the PSK callback of this class.</summary>
    public static SslContextHandle CreateContext(PskCredentials psk)
    {
        s_identity = Encoding.UTF8.GetBytes(psk.Identity + "\0");
        s_key = psk.Key;
        var context = SslContextFactory.CreateClientContext(Suite);
        NativeMethods.SSL_CTX_set_psk_client_callback(context, &PskCallback);
        return context;
    }

    /// <summary>One handshake from <paramref name="source"/>; the negotiated suite's name, or throws <see cref="IOException"/>.</summary>
    public static string Probe(SslContextHandle context, IPEndPoint server, IPAddress source, TimeSpan timeout)
    {
        using var loop = new Loop(context, server, source);
        var driver = new Driver([loop], Stopwatch.GetTimestamp() + ToTicks(timeout), timeout, stopAfterOne: true);
        driver.Run();
        if (loop.LastSuite is null)
        {
            throw new IOException(driver.Reasons.Count > 0 ? string.Join("; ", driver.Reasons.Keys) : "no handshake completed");
        }

        return loop.LastSuite;
    }

    /// <summary>
    /// <paramref name="loops"/> closed loops of handshakes for <paramref name="duration"/> on <paramref name="threads"/>
    /// threads, loop i from source 127.<paramref name="sourceGroup"/>.0.(i+1); client CPU is the harness process's
    /// utime + stime over the run.
    /// </summary>
    public static Result Run(SslContextHandle context, IPEndPoint server, int loops, int threads, int sourceGroup, TimeSpan duration, TimeSpan handshakeTimeout)
    {
        var states = new Loop[loops];
        try
        {
            for (var i = 0; i < loops; i++)
            {
                states[i] = new Loop(context, server, GatewayBench.Source(sourceGroup, i));
            }

            threads = Math.Clamp(threads, 1, loops);
            var end = Stopwatch.GetTimestamp() + ToTicks(duration);
            var drivers = Enumerable.Range(0, threads)
                .Select(t => new Driver([.. states.Where((_, i) => i % threads == t)], end, handshakeTimeout, stopAfterOne: false))
                .ToList();
            var workers = drivers.Select((driver, t) => new Thread(driver.Run) { IsBackground = true, Name = "light-handshakes-" + t }).ToList();
            var cpuBefore = Environment.CpuUsage;
            var wall = Stopwatch.StartNew();
            foreach (var worker in workers)
            {
                worker.Start();
            }

            foreach (var worker in workers)
            {
                worker.Join();
            }

            wall.Stop();
            var cpuAfter = Environment.CpuUsage;
            var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (reason, n) in drivers.SelectMany(d => d.Reasons))
            {
                reasons[reason] = reasons.GetValueOrDefault(reason) + n;
            }

            return new Result(
                drivers.Sum(d => d.Latencies.Count),
                drivers.Sum(d => d.Failed),
                wall.Elapsed.TotalSeconds,
                (cpuAfter.TotalTime - cpuBefore.TotalTime).TotalSeconds,
                (cpuAfter.UserTime - cpuBefore.UserTime).TotalSeconds,
                drivers.Sum(d => d.ThreadCpuSeconds),
                [.. drivers.SelectMany(d => d.Latencies).Order()],
                reasons);
        }
        finally
        {
            foreach (var state in states)
            {
                state?.Dispose();
            }
        }
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    [UnmanagedCallersOnly]
    private static uint PskCallback(nint ssl, byte* hint, byte* identity, uint maxIdentity, byte* psk, uint maxPsk)
    {
        var name = s_identity;
        var key = s_key;
        if (name.Length > maxIdentity || key.Length > maxPsk || key.Length == 0)
        {
            return 0;
        }

        name.CopyTo(new Span<byte>(identity, name.Length));
        key.CopyTo(new Span<byte>(psk, key.Length));
        return (uint)key.Length;
    }

    /// <summary>One thread's event loop over its client loops.</summary>
    private sealed class Driver(Loop[] loops, long end, TimeSpan handshakeTimeout, bool stopAfterOne)
    {
        private readonly byte[] _buffer = new byte[16 * 1024 + 512];
        private readonly byte[] _datagram = new byte[Mtu];

        public List<double> Latencies { get; } = new(65536);

        public Dictionary<string, int> Reasons { get; } = new(StringComparer.Ordinal);

        public int Failed { get; private set; }

        public double ThreadCpuSeconds { get; private set; }

        public void Run()
        {
            var cpu = new ThreadCpuWatch();
            cpu.Start();
            var polls = new PollFd[loops.Length];
            for (var i = 0; i < loops.Length; i++)
            {
                polls[i] = new PollFd { Fd = loops[i].Fd, Events = PollIn };
                Start(loops[i]);
            }

            var lastTimerCheck = Stopwatch.GetTimestamp();
            var timerInterval = Stopwatch.Frequency / 200;
            fixed (PollFd* p = polls)
            {
                while (AnyInProgress())
                {
                    var ready = poll(p, (nuint)polls.Length, 5);
                    for (var i = 0; ready > 0 && i < polls.Length; i++)
                    {
                        if (polls[i].Revents != 0)
                        {
                            polls[i].Revents = 0;
                            Receive(loops[i]);
                        }
                    }

                    // Retransmission timers and deadlines, every 5 ms at most (a lost flight waits 1 s anyway).
                    var now = Stopwatch.GetTimestamp();
                    if (ready <= 0 || now - lastTimerCheck > timerInterval)
                    {
                        lastTimerCheck = now;
                        foreach (var loop in loops)
                        {
                            CheckTimer(loop, now);
                        }
                    }
                }
            }

            cpu.Stop();
            ThreadCpuSeconds = cpu.Elapsed.TotalSeconds;
        }

        private bool AnyInProgress()
        {
            foreach (var loop in loops)
            {
                if (loop.InProgress)
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// The loop's next handshake: its first on a new SSL object with two memory BIOs, every later one on the same
        /// objects after SSL_clear, with the previous session dropped (nothing to resume) and the BIOs emptied.
        /// </summary>
        private void Start(Loop loop)
        {
            if (loop.Ssl is null)
            {
                loop.Ssl = OpenSslError.CheckHandle(NativeMethods.SSL_new(loop.Context), "SSL_new");
                loop.ReadBio = OpenSslError.CheckHandle(NativeMethods.BIO_new(NativeMethods.BIO_s_mem()), "BIO_new");
                loop.WriteBio = OpenSslError.CheckHandle(NativeMethods.BIO_new(NativeMethods.BIO_s_mem()), "BIO_new");

                // SSL_set_bio takes one reference of each BIO: give it its own, so the SSL and these handles each free theirs.
                OpenSslError.ThrowIf(NativeMethods.BIO_up_ref(loop.ReadBio) != 1 || NativeMethods.BIO_up_ref(loop.WriteBio) != 1, "BIO_up_ref");
                NativeMethods.SSL_set_bio(loop.Ssl, loop.ReadBio.DangerousGetHandle(), loop.WriteBio.DangerousGetHandle());
            }
            else
            {
                if (NativeMethods.SSL_clear(loop.Ssl) != 1 || NativeMethods.SSL_set_session(loop.Ssl, 0) != 1)
                {
                    throw new InvalidOperationException("SSL_clear failed: " + OpenSslError.Drain(out _));
                }

                NativeMethods.BIO_ctrl(loop.ReadBio!, NativeMethods.BioCtrlReset, 0, 0);
                NativeMethods.BIO_ctrl(loop.WriteBio!, NativeMethods.BioCtrlReset, 0, 0);
            }

            // An empty read BIO means "retry" (WANT_READ), not end of file.
            NativeMethods.BIO_ctrl(loop.ReadBio!, NativeMethods.BioCSetBufMemEofReturn, -1, 0);
            NativeMethods.SSL_ctrl(loop.Ssl, NativeMethods.SslCtrlSetMtu, Mtu, 0);
            NativeMethods.SSL_set_connect_state(loop.Ssl);
            loop.InProgress = true;
            loop.Started = Stopwatch.GetTimestamp();
            Step(loop);
        }

        private void Receive(Loop loop)
        {
            fixed (byte* b = _buffer)
            {
                var length = recv(loop.Fd, b, (nuint)_buffer.Length, MsgDontWait);
                if (length <= 0 || !loop.InProgress)
                {
                    // Nothing (a spurious wake-up or a queued ICMP error), or a late datagram after the last handshake.
                    return;
                }

                if (NativeMethods.BIO_write(loop.ReadBio!, b, (int)length) != length)
                {
                    Fail(loop, "BIO_write failed");
                    return;
                }
            }

            Step(loop);
        }

        private void Step(Loop loop)
        {
            var rc = NativeMethods.SSL_do_handshake(loop.Ssl!);
            Flush(loop);
            if (rc == 1)
            {
                Complete(loop);
                return;
            }

            if (NativeMethods.SSL_get_error(loop.Ssl!, rc) != NativeMethods.SslErrorWantRead)
            {
                Fail(loop, "handshake failed: " + OpenSslError.Drain(out _));
            }
        }

        private void CheckTimer(Loop loop, long now)
        {
            if (!loop.InProgress)
            {
                return;
            }

            if (now - loop.Started > ToTicks(handshakeTimeout))
            {
                Fail(loop, "handshake timed out");
                return;
            }

            var timeval = stackalloc long[2];
            if (NativeMethods.SSL_ctrl(loop.Ssl!, NativeMethods.DtlsCtrlGetTimeout, 0, (nint)timeval) == 1 && timeval[0] == 0 && timeval[1] == 0)
            {
                NativeMethods.SSL_ctrl(loop.Ssl!, NativeMethods.DtlsCtrlHandleTimeout, 0, 0);
                Flush(loop);
            }
        }

        private void Complete(Loop loop)
        {
            if (NativeMethods.SSL_ctrl(loop.Ssl!, NativeMethods.SslCtrlGetSessionReused, 0, 0) != 0)
            {
                // Never expected (no session is offered, the gateway keeps none): such a handshake is not counted.
                Fail(loop, "the session was resumed, not a full handshake");
                return;
            }

            Latencies.Add((Stopwatch.GetTimestamp() - loop.Started) * 1000.0 / Stopwatch.Frequency);
            if (stopAfterOne)
            {
                loop.LastSuite = Marshal.PtrToStringUTF8(NativeMethods.SSL_CIPHER_get_name(NativeMethods.SSL_get_current_cipher(loop.Ssl!)));
            }

            // close_notify: the gateway ends the session and answers with its own, which nothing waits for; it reaches
            // the loop's next handshake, whose SSL object drops it (a record of an epoch and keys it does not have).
            _ = NativeMethods.SSL_shutdown(loop.Ssl!);
            Flush(loop);
            Next(loop);
        }

        private void Fail(Loop loop, string reason)
        {
            Failed++;
            Reasons[reason] = Reasons.GetValueOrDefault(reason) + 1;
            OpenSslError.Clear();
            Next(loop);
        }

        private void Next(Loop loop)
        {
            OpenSslError.Clear();
            loop.InProgress = false;
            if (!stopAfterOne && Stopwatch.GetTimestamp() < end)
            {
                Start(loop);
            }
        }

        /// <summary>Sends what OpenSSL wrote: whole records, as many per datagram as fit in the MTU.</summary>
        private void Flush(Loop loop)
        {
            var pending = (int)NativeMethods.BIO_ctrl(loop.WriteBio!, NativeMethods.BioCtrlPending, 0, 0);
            if (pending <= 0)
            {
                return;
            }

            fixed (byte* b = _buffer)
            fixed (byte* d = _datagram)
            {
                var length = NativeMethods.BIO_read(loop.WriteBio!, b, Math.Min(pending, _buffer.Length));
                var offset = 0;
                var used = 0;
                while (offset + RecordHeader <= length)
                {
                    var record = RecordHeader + ((b[offset + 11] << 8) | b[offset + 12]);
                    if (offset + record > length)
                    {
                        break;
                    }

                    if (used + record > Mtu && used > 0)
                    {
                        _ = send(loop.Fd, d, (nuint)used, MsgDontWait);
                        used = 0;
                    }

                    if (record > Mtu)
                    {
                        // Never the case for these flights (OpenSSL fragments to the MTU); sent alone if it were.
                        _ = send(loop.Fd, b + offset, (nuint)record, MsgDontWait);
                    }
                    else
                    {
                        new ReadOnlySpan<byte>(b + offset, record).CopyTo(new Span<byte>(d + used, record));
                        used += record;
                    }

                    offset += record;
                }

                if (used > 0)
                {
                    _ = send(loop.Fd, d, (nuint)used, MsgDontWait);
                }
            }
        }
    }

    /// <summary>
    /// One client loop: its UDP socket (bound to its source, connected to the gateway) and its handshake in progress on
    /// one SSL object with two memory BIOs, made at its first handshake and reused for every later one.
    /// </summary>
    private sealed class Loop : IDisposable
    {
        private readonly Socket _socket;

        public Loop(SslContextHandle context, IPEndPoint server, IPAddress source)
        {
            Context = context;
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                _socket.Bind(new IPEndPoint(source, 0));
                _socket.Connect(server);
                Fd = (int)_socket.SafeHandle.DangerousGetHandle();
            }
            catch
            {
                _socket.Dispose();
                throw;
            }
        }

        public SslContextHandle Context { get; }

        public int Fd { get; }

        public SslHandle? Ssl { get; set; }

        public BioHandle? ReadBio { get; set; }

        public BioHandle? WriteBio { get; set; }

        public bool InProgress { get; set; }

        public long Started { get; set; }

        public string? LastSuite { get; set; }

        public void Dispose()
        {
            Ssl?.Dispose();
            ReadBio?.Dispose();
            WriteBio?.Dispose();
            _socket.Dispose();
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", SetLastError = false)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = false)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);
}
