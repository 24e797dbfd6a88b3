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
/// work at all; OpenSSL does the socket I/O itself through a datagram BIO on the loop's socket (no managed copy of a
/// datagram, no task per receive); each loop keeps one UDP socket (one source address and port) for all its
/// handshakes, a fresh SSL object each (no session is offered, so no resumption), closed with close_notify before
/// the next ClientHello from the same port. The gateway takes that ClientHello as a new client: after close_notify
/// the session is gone, and while it is still being closed a cookie-verified epoch-0 ClientHello replaces it (RFC
/// 6347 4.2.8). One dedicated thread per loop, blocking in <c>recv</c> with OpenSSL's DTLS timer as its timeout.
/// </summary>
internal static unsafe partial class LightHandshakes
{
    public const string Suite = "PSK-AES128-CCM8";

    private const int Mtu = 1200;
    private const int AfInet = 2;
    private const int BioNoClose = 0;
    private const int BioCtrlDgramSetConnected = 32;

    // The one PSK identity of a run, for OpenSSL's client callback (set before any loop starts, then only read).
    private static byte[] s_identity = [0];
    private static byte[] s_key = [];

    /// <summary>The result of one timed run.</summary>
    public sealed record Result(int Count, int Failed, double Seconds, double ClientCpuSeconds, double ThreadCpuSeconds, List<double> SortedLatenciesMs, IReadOnlyDictionary<string, int> Reasons);

    /// <summary>A client context offering only <see cref="Suite"/>, with the PSK callback of this class.</summary>
    public static SslContextHandle CreateContext(PskCredentials psk)
    {
        s_identity = Encoding.UTF8.GetBytes(psk.Identity + "\0");
        s_key = psk.Key;
        var context = SslContextFactory.CreateClientContext(Suite);
        SSL_CTX_set_psk_client_callback(context.DangerousGetHandle(), &PskCallback);
        return context;
    }

    /// <summary>One handshake from <paramref name="source"/>; the negotiated suite's name, or throws <see cref="IOException"/>.</summary>
    public static string Probe(SslContextHandle context, IPEndPoint server, IPAddress source, TimeSpan timeout)
    {
        using var loop = new Loop(context.DangerousGetHandle(), server, source);
        var ssl = loop.Handshake(timeout, out var failure);
        if (ssl == 0)
        {
            throw new IOException(failure);
        }

        var name = Marshal.PtrToStringUTF8(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))) ?? "";
        Loop.Close(ssl);
        return name;
    }

    /// <summary>
    /// <paramref name="loops"/> closed loops of handshakes for <paramref name="duration"/>, loop i from source
    /// 127.<paramref name="sourceGroup"/>.0.(i+1); client CPU is the harness process's utime + stime over the run.
    /// </summary>
    public static Result Run(SslContextHandle context, IPEndPoint server, int loops, int sourceGroup, TimeSpan duration, TimeSpan handshakeTimeout)
    {
        var ctx = context.DangerousGetHandle();
        var states = new Loop[loops];
        try
        {
            for (var i = 0; i < loops; i++)
            {
                states[i] = new Loop(ctx, server, GatewayBench.Source(sourceGroup, i));
            }

            using var start = new ManualResetEventSlim();
            var counts = new int[loops];
            var failures = new int[loops];
            var threadCpu = new double[loops];
            var latencies = new List<double>[loops];
            var reasons = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
            long end = 0;
            var threads = new Thread[loops];
            for (var i = 0; i < loops; i++)
            {
                var index = i;
                threads[i] = new Thread(() =>
                {
                    var loop = states[index];
                    var mine = new List<double>(16384);
                    start.Wait();
                    var cpu = new ThreadCpuWatch();
                    cpu.Start();
                    while (Stopwatch.GetTimestamp() < Volatile.Read(ref end))
                    {
                        var started = Stopwatch.GetTimestamp();
                        var ssl = loop.Handshake(handshakeTimeout, out var failure);
                        if (ssl == 0)
                        {
                            failures[index]++;
                            reasons.AddOrUpdate(failure, 1, static (_, n) => n + 1);
                            continue;
                        }

                        mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        Loop.Close(ssl);
                    }

                    cpu.Stop();
                    threadCpu[index] = cpu.Elapsed.TotalSeconds;
                    counts[index] = mine.Count;
                    latencies[index] = mine;
                })
                {
                    IsBackground = true,
                    Name = "light-handshakes-" + index,
                };
                threads[i].Start();
            }

            var cpuBefore = Environment.CpuUsage.TotalTime;
            var wall = Stopwatch.StartNew();
            Volatile.Write(ref end, Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency));
            start.Set();
            foreach (var thread in threads)
            {
                thread.Join();
            }

            wall.Stop();
            var clientCpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;
            var all = latencies.SelectMany(l => l).Order().ToList();
            return new Result(counts.Sum(), failures.Sum(), wall.Elapsed.TotalSeconds, clientCpu, threadCpu.Sum(), all, reasons);
        }
        finally
        {
            foreach (var state in states)
            {
                state?.Dispose();
            }
        }
    }

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

    /// <summary>One client loop: its UDP socket (bound to its source, connected to the gateway) and that socket's datagram BIO.</summary>
    private sealed class Loop : IDisposable
    {
        private readonly nint _context;
        private readonly Socket _socket;
        private readonly byte[] _drain = new byte[2048];
        private nint _bio;

        public Loop(nint context, IPEndPoint server, IPAddress source)
        {
            _context = context;
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                _socket.Bind(new IPEndPoint(source, 0));
                _socket.Connect(server);
                _bio = BIO_new_dgram((int)_socket.SafeHandle.DangerousGetHandle(), BioNoClose);
                if (_bio == 0)
                {
                    throw new InvalidOperationException("BIO_new_dgram failed");
                }

                // The socket is connected: the BIO then uses send/recv and knows its peer (for the DTLS timer).
                var peer = BIO_ADDR_new();
                try
                {
                    var address = server.Address.GetAddressBytes();
                    var port = (ushort)IPAddress.HostToNetworkOrder((short)server.Port);
                    fixed (byte* a = address)
                    {
                        if (BIO_ADDR_rawmake(peer, AfInet, a, (nuint)address.Length, port) != 1)
                        {
                            throw new InvalidOperationException("BIO_ADDR_rawmake failed");
                        }
                    }

                    BIO_ctrl(_bio, BioCtrlDgramSetConnected, 0, peer);
                }
                finally
                {
                    BIO_ADDR_free(peer);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>A fresh SSL object's handshake; the SSL object when it completed (the caller closes it), else 0 and why.</summary>
        public nint Handshake(TimeSpan timeout, out string failure)
        {
            failure = "";
            DrainStale();
            var ssl = SSL_new(_context);
            if (ssl == 0)
            {
                failure = "SSL_new failed";
                return 0;
            }

            // SSL_set_bio takes one reference for both directions; the loop keeps its own.
            if (BIO_up_ref(_bio) != 1)
            {
                failure = "BIO_up_ref failed";
                SSL_free(ssl);
                return 0;
            }

            SSL_set_bio(ssl, _bio, _bio);
            SSL_ctrl(ssl, NativeMethods.SslCtrlSetMtu, Mtu, 0);
            SSL_set_connect_state(ssl);
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                var rc = SSL_do_handshake(ssl);
                if (rc == 1)
                {
                    return ssl;
                }

                var error = SSL_get_error(ssl, rc);
                if (error != NativeMethods.SslErrorWantRead || Stopwatch.GetTimestamp() > deadline)
                {
                    failure = error == NativeMethods.SslErrorWantRead ? "handshake timed out" : "handshake failed: " + OpenSslError.Drain(out _);
                    ERR_clear_error();
                    SSL_free(ssl);
                    return 0;
                }

                // recv timed out at OpenSSL's DTLS timer (or returned early): retransmit the flight when it is due.
                SSL_ctrl(ssl, NativeMethods.DtlsCtrlHandleTimeout, 0, 0);
            }
        }

        /// <summary>close_notify, then the SSL object is freed; the socket stays for the next handshake.</summary>
        public static void Close(nint ssl)
        {
            // 0: close_notify sent, the peer's not awaited (the gateway ends the session on ours).
            _ = SSL_shutdown(ssl);
            ERR_clear_error();
            SSL_free(ssl);
        }

        /// <summary>
        /// Drops datagrams of the previous session still queued on the socket (a late retransmission), so the next
        /// handshake cannot take one of them for its own.
        /// </summary>
        private void DrainStale()
        {
            while (_socket.Available > 0)
            {
                try
                {
                    _socket.Receive(_drain);
                }
                catch (SocketException)
                {
                    // An ICMP error queued on the socket: read and forgotten like the datagrams.
                }
            }
        }

        public void Dispose()
        {
            if (_bio != 0)
            {
                _ = BIO_free(_bio);
                _bio = 0;
            }

            _socket.Dispose();
        }
    }

    [LibraryImport(NativeMethods.Ssl)]
    private static partial nint SSL_new(nint ctx);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial void SSL_free(nint ssl);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial void SSL_set_bio(nint ssl, nint rbio, nint wbio);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial nint SSL_ctrl(nint ssl, int cmd, nint larg, nint parg);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial void SSL_set_connect_state(nint ssl);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial int SSL_do_handshake(nint ssl);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial int SSL_get_error(nint ssl, int ret);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial int SSL_shutdown(nint ssl);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial nint SSL_get_current_cipher(nint ssl);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial nint SSL_CIPHER_get_name(nint cipher);

    [LibraryImport(NativeMethods.Ssl)]
    private static partial void SSL_CTX_set_psk_client_callback(nint ctx, delegate* unmanaged<nint, byte*, byte*, uint, byte*, uint, uint> callback);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial nint BIO_new_dgram(int fd, int closeFlag);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial int BIO_up_ref(nint bio);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial int BIO_free(nint bio);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial nint BIO_ctrl(nint bio, int cmd, nint larg, nint parg);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial nint BIO_ADDR_new();

    [LibraryImport(NativeMethods.Crypto)]
    private static partial int BIO_ADDR_rawmake(nint addr, int family, byte* where, nuint whereLength, ushort port);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial void BIO_ADDR_free(nint addr);

    [LibraryImport(NativeMethods.Crypto)]
    private static partial void ERR_clear_error();
}
