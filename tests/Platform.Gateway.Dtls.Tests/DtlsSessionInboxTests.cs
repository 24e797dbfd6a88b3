using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>A session's datagrams between the receive loop and its worker, seen through a real listener.</summary>
[Collection(nameof(SerialGroup))]
public sealed class DtlsSessionInboxTests
{
    private static readonly TestTenants Pki = new();

    [Fact]
    public async Task SessionStuckInItsHandler_QueueBoundedDropsCountedOrderKept_OtherSessionsKeepEchoing()
    {
        using var gate = new ManualResetEventSlim();
        var handler = HeldAt0xFF(gate);
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.SessionQueueCapacity = 8);
        using var stuck = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        using var other = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        stuck.Send([0xFF]);
        await DtlsServerTests.WaitUntil(() => handler.Received.Any(r => r.Data is [0xFF]));

        var before = server.Counters.DatagramsIn;
        for (byte i = 1; i <= 50; i++)
        {
            stuck.Send([i]);
        }

        await DtlsServerTests.WaitUntil(() => server.Counters.DatagramsIn == before + 50);

        // The stuck session's worker waits in the handler; the other session's worker does not wait for it.
        other.Send([42]);
        Assert.Equal([42], await other.ReceiveAsync());
        Assert.Equal(42, server.Counters.SessionQueueDropped);

        gate.Set();
        List<byte[]> echoed = [];
        while (await stuck.ReceiveAsync(TimeSpan.FromSeconds(1)) is { } datagram)
        {
            echoed.Add(datagram);
        }

        Assert.Equal(new byte[][] { [0xFF], [1], [2], [3], [4], [5], [6], [7], [8] }, echoed);
    }

    [Fact]
    public async Task SessionStuckInItsHandler_LargeDatagramsBoundedByBytes()
    {
        using var gate = new ManualResetEventSlim();
        var handler = HeldAt0xFF(gate);
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.SessionQueueCapacity = 4096;
            o.SessionQueueBytes = o.MaxPacketSize;
        });
        using var stuck = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        stuck.Send([0xFF]);
        await DtlsServerTests.WaitUntil(() => handler.Received.Any(r => r.Data is [0xFF]));

        // Not records at all: only their size matters while they wait.
        var before = server.Counters.DatagramsIn;
        for (var i = 0; i < 5; i++)
        {
            stuck.SendRaw(new byte[8000]);
        }

        await DtlsServerTests.WaitUntil(() => server.Counters.DatagramsIn == before + 5);

        Assert.Equal(3, server.Counters.SessionQueueDropped);
        gate.Set();
        Assert.Equal([0xFF], await stuck.ReceiveAsync());
        stuck.Send([7]);
        Assert.Equal([7], await stuck.ReceiveAsync());
    }

    /// <summary>An echoing handler whose worker waits at the datagram [0xFF] until <paramref name="gate"/> opens.</summary>
    private static TestHandler HeldAt0xFF(ManualResetEventSlim gate) => new()
    {
        BeforeEcho = (_, data) =>
        {
            if (data is [0xFF])
            {
                gate.Wait(TimeSpan.FromSeconds(30));
            }
        },
    };
}
