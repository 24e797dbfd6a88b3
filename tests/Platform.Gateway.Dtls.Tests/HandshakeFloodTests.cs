using System.Diagnostics;
using System.Net;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>Handshake floods against a real listener over loopback, with a real established session beside them.</summary>
[Collection(nameof(SerialGroup))]
public sealed class HandshakeFloodTests
{
    private const int UnassignedCap = 64;

    private static readonly TestTenants Pki = new();

    /// <summary>
    /// Loose bound for one echo under the flood, a lost datagram being sent again every half second: a listener
    /// whose receive loop signs first flights misses it, one that hands them to workers stays far below it.
    /// </summary>
    private static readonly TimeSpan EchoBound = TimeSpan.FromSeconds(4);

    /// <summary>RSA-4096: each first flight costs the server a few milliseconds of signing, the attacker nothing.</summary>
    private static readonly Lazy<string> RsaPem = new(() => TestPki.CreateServerPem(Pki.Ca, "flood.dtls.test", rsaBits: 4096, "flood.dtls.test"));

    /// <summary>
    /// With <paramref name="receiveThreads"/> a thread of its own reads each socket (the shared port), else a pool loop
    /// (dedicated ports); either way the signed first flights go to the workers and the echo keeps its pace.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CookieVerifiedHelloFlood_SignedFirstFlights_EstablishedSessionKeepsEchoing(bool receiveThreads)
    {
        var handler = new TestHandler();
        var flooded = new DtlsTenantSettings { TenantId = "t-flood", Slug = "flood", CertificatePems = [RsaPem.Value] };
        await using var server = TestTenants.StartServer(Pki.Directory(Pki.Alpha(), flooded), handler, o =>
        {
            // Loopback offers a handful of /32s; the flood stands for senders from many more prefixes.
            o.MaxHalfOpenHandshakesPerSource = 10_000;
            o.MaxUnassignedHandshakes = UnassignedCap;
            o.ReceiveThreads = receiveThreads;
        });
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        using var flood = await HandshakeFlood.PrepareAsync(server.LocalEndPoint, "flood.dtls.test", addresses: 4, portsPerAddress: 50);

        var running = flood.RunAsync(pairsPerSecond: 3000, TimeSpan.FromSeconds(6));
        var peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.UnassignedHandshakes);
                await Task.Delay(5);
            }
        });
        var waits = await EchoWhileAsync(client, running);
        await running;
        await sampling.CancelAsync();
        await sampler;

        var report = $"echo waits (ms): {string.Join(", ", waits.Select(w => (int)w.TotalMilliseconds))}; hellos sent {flood.HellosSent}; "
            + $"handshakes started {server.Counters.HandshakesStarted}, failed {server.Counters.HandshakesFailed}; refused {server.Counters.Refused}, "
            + $"unassigned dropped {server.Counters.UnassignedDropped} (peak {peak}), queue dropped {server.Counters.SessionQueueDropped}";
        Assert.True(flood.HellosSent > 5000, report);
        // Each of these a signed first flight that the flood's alert then ended: the workers were kept busy.
        Assert.True(server.Counters.HandshakesFailed >= 100, report);
        Assert.True(waits.Count >= 5, report);
        Assert.True(waits.TrueForAll(w => w < EchoBound), report);
        Assert.True(peak <= UnassignedCap, report);
        Assert.True(server.Counters.UnassignedDropped > 0, report);
    }

    [Fact]
    public async Task HelloFloodNamingNoTenant_HeldAtTheUnassignedCap_DropsCountedAndTheTimeoutFreesRoom()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.TimeProvider = time;
            o.MaxHalfOpenHandshakesPerSource = 10_000;
            o.MaxUnassignedHandshakes = 20;
        });
        // ClientHellos without SNI that offer PSK suites: the tenant would come with the identity in the next flight,
        // which never comes.
        using var flood = await HandshakeFlood.PrepareAsync(server.LocalEndPoint, serverName: null, addresses: 3, portsPerAddress: 20, offerPsk: true);

        flood.SendHellosOnce();
        await DtlsServerTests.WaitUntil(() => server.Counters.HandshakesStarted + server.Counters.UnassignedDropped == 60);

        Assert.Equal(20, server.Counters.HandshakesStarted);
        Assert.Equal(40, server.Counters.UnassignedDropped);
        Assert.Equal(20, server.UnassignedHandshakes);
        Assert.Equal(20, server.SessionCount);

        // The cap is the listener's, not one source's: a device from 127.0.0.1 is dropped silently too and retransmits.
        var device = DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            PskIdentity = "alpha/dev1",
            PskKey = TestTenants.AlphaKey,
            CipherList = "PSK-AES128-GCM-SHA256",
            Timeout = TimeSpan.FromSeconds(20),
        });
        await DtlsServerTests.WaitUntil(() => server.Counters.UnassignedDropped > 40);
        Assert.False(device.IsCompleted);

        // The flood's handshakes reach their deadline; the device's next retransmission finds room. A worker may
        // still be taking a flood handshake's first step (which arms its timer), so the clock moves until all are gone.
        time.Advance(TimeSpan.FromSeconds(21));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (server.Counters.HandshakesTimedOut < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        using var client = await device;
        client.Send([5]);

        Assert.Equal([5], await client.ReceiveAsync());
        Assert.Equal(20, server.Counters.HandshakesTimedOut);
        Assert.Equal(0, server.UnassignedHandshakes);
        Assert.Equal(1, server.SessionCount);
    }

    [Fact]
    public async Task PerSourceCap_ManyPortsOfOneAddress_CountedAsOneSource()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.MaxHalfOpenHandshakesPerSource = 2);
        using var flood = await HandshakeFlood.PrepareAsync(server.LocalEndPoint, serverName: null, addresses: 2, portsPerAddress: 3, offerPsk: true);

        flood.SendHellosOnce();
        await DtlsServerTests.WaitUntil(() => server.Counters.HandshakesStarted + server.Counters.Refused == 6);

        // Two handshakes from each of 127.0.0.2 and 127.0.0.3, whichever ports they came from.
        Assert.Equal(4, server.SessionCount);
        Assert.Equal(2, server.Counters.Refused);
        Assert.Equal(0, server.Counters.UnassignedDropped);
        Assert.Equal(2, server.Sessions.Count(s => s.RemoteEndPoint.Address.Equals(IPAddress.Parse("127.0.0.2"))));
        Assert.Equal(2, server.Sessions.Count(s => s.RemoteEndPoint.Address.Equals(IPAddress.Parse("127.0.0.3"))));
    }

    /// <summary>
    /// Exchanges one numbered datagram at a time with the echoing server until <paramref name="until"/> completes and
    /// returns how long each echo took. A lost datagram is sent again after half a second, as a device would.
    /// </summary>
    private static async Task<List<TimeSpan>> EchoWhileAsync(DtlsTestClient client, Task until)
    {
        var waits = new List<TimeSpan>();
        for (var round = 1; !until.IsCompleted; round++)
        {
            var payload = BitConverter.GetBytes(round);
            var started = Stopwatch.GetTimestamp();
            var echoed = false;
            while (!echoed && Stopwatch.GetElapsedTime(started) < EchoBound)
            {
                client.Send(payload);
                var resend = Stopwatch.GetTimestamp();
                while (Stopwatch.GetElapsedTime(resend) < TimeSpan.FromMilliseconds(500))
                {
                    var received = await client.ReceiveAsync(TimeSpan.FromMilliseconds(500) - Stopwatch.GetElapsedTime(resend));
                    if (received is null)
                    {
                        break;
                    }

                    // An echo of an earlier round that came late is skipped.
                    if (received.AsSpan().SequenceEqual(payload))
                    {
                        echoed = true;
                        break;
                    }
                }
            }

            waits.Add(Stopwatch.GetElapsedTime(started));
            await Task.Delay(100);
        }

        return waits;
    }
}
