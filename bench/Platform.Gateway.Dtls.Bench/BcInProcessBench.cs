using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// BouncyCastle's own DTLS 1.2 ECDHE-PSK (P-256) handshake rate, without a gateway: a <see cref="DtlsServerProtocol"/>
/// (with its cookie exchange) and a <see cref="DtlsClientProtocol"/> on two threads, datagrams handed over in memory.
/// The server rate counts only the server thread's CPU time, so it is what one core pays per BouncyCastle handshake;
/// the baseline for the gateway's BouncyCastle handshakes per CPU-second.
/// </summary>
internal static class BcInProcessBench
{
    private static readonly byte[] Psk = RandomNumberGenerator.GetBytes(16);

    /// <summary>Warm-up for half a second, then <paramref name="seconds"/> of handshakes.</summary>
    public static HandshakeBench.InProcessResult Measure(double seconds)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        Run(crypto, TimeSpan.FromSeconds(0.5));
        return Run(crypto, TimeSpan.FromSeconds(seconds));
    }

    private static HandshakeBench.InProcessResult Run(BcTlsCrypto crypto, TimeSpan duration)
    {
        using var pairs = new BlockingCollection<MemoryPair>();
        var clientFailure = (Exception?)null;
        var client = new Thread(() =>
        {
            foreach (var pair in pairs.GetConsumingEnumerable())
            {
                try
                {
                    var transport = new DtlsClientProtocol().Connect(new Client(crypto), pair.ClientEnd);
                    transport.Close();
                }
                catch (IOException ex)
                {
                    clientFailure = ex;
                    pair.ServerEnd.Fail();
                }
            }
        })
        { IsBackground = true, Name = "bc-inproc-client" };
        client.Start();

        var watch = new ThreadCpuWatch();
        var wall = Stopwatch.StartNew();
        var count = 0;
        while (wall.Elapsed < duration)
        {
            var pair = new MemoryPair();
            pairs.Add(pair);
            watch.Start();
            try
            {
                new DtlsServerProtocol().Accept(new Server(crypto), pair.ServerEnd);
            }
            finally
            {
                watch.Stop();
            }

            count++;
        }

        wall.Stop();
        pairs.CompleteAdding();
        client.Join();
        if (clientFailure is not null)
        {
            throw new InvalidOperationException("in-process BouncyCastle client failed: " + clientFailure.Message, clientFailure);
        }

        return new HandshakeBench.InProcessResult("BouncyCastle ECDHE-PSK P-256", count, watch.Elapsed, wall.Elapsed);
    }

    private sealed class Client(BcTlsCrypto crypto) : PskTlsClient(crypto, new BasicTlsPskIdentity("bench/dev1", Psk))
    {
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

        protected override int[] GetSupportedCipherSuites() => [CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256];

        protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => [NamedGroup.secp256r1];

        public override int GetHandshakeTimeoutMillis() => 10_000;
    }

    private sealed class Server(BcTlsCrypto crypto) : PskTlsServer(crypto, new Identities())
    {
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

        protected override int[] GetSupportedCipherSuites() => [CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256];

        public override int GetHandshakeTimeoutMillis() => 10_000;
    }

    private sealed class Identities : TlsPskIdentityManager
    {
        public byte[]? GetHint() => null;

        // BouncyCastle zeroes the array it is given after use: a copy each time.
        public byte[] GetPsk(byte[] identity) => (byte[])Psk.Clone();
    }

    /// <summary>Two ends of an in-memory datagram link.</summary>
    private sealed class MemoryPair
    {
        public MemoryPair()
        {
            var toServer = new Queue<byte[]>();
            var toClient = new Queue<byte[]>();
            ServerEnd = new End(toServer, toClient);
            ClientEnd = new End(toClient, toServer);
        }

        public End ServerEnd { get; }

        public End ClientEnd { get; }
    }

    /// <summary>One end: reads from its inbox, writes to the peer's; waits with Monitor (no spinning to count as CPU).</summary>
    private sealed class End(Queue<byte[]> inbox, Queue<byte[]> outbox) : DatagramTransport
    {
        private volatile bool _failed;

        public void Fail()
        {
            _failed = true;
            lock (inbox)
            {
                Monitor.PulseAll(inbox);
            }
        }

        public int GetReceiveLimit() => 2048;

        public int GetSendLimit() => 1200;

        public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

        public int Receive(Span<byte> buffer, int waitMillis)
        {
            lock (inbox)
            {
                if (inbox.Count == 0 && !_failed)
                {
                    Monitor.Wait(inbox, Math.Max(1, waitMillis));
                }

                if (_failed)
                {
                    throw new IOException("the peer failed");
                }

                if (inbox.Count == 0)
                {
                    return -1;
                }

                var datagram = inbox.Dequeue();
                var length = Math.Min(datagram.Length, buffer.Length);
                datagram.AsSpan(0, length).CopyTo(buffer);
                return length;
            }
        }

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            var copy = buffer.ToArray();
            lock (outbox)
            {
                outbox.Enqueue(copy);
                Monitor.Pulse(outbox);
            }
        }

        public void Close()
        {
        }
    }
}
