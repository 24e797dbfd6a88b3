using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Platform.Contracts.Config;
using Platform.Gateway.Delivery;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Delivery;

/// <summary><see cref="ForwardDelivery"/> for datagram clients (DTLS), against a real TCP backend socket.</summary>
public sealed class ForwardDeliveryDatagramTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task RunAsync_LengthPrefix16FramesSplitAcrossWrites_OneMessagePerFrame()
    {
        await using var rig = await Rig.StartAsync(MessageFramings.LengthPrefix16, maxReply: 100);

        await rig.Backend.SendAsync(new byte[] { 0, 3, (byte)'a' });
        await rig.Backend.SendAsync(new byte[] { (byte)'b', (byte)'c', 0, 2, (byte)'d' });
        await rig.Backend.SendAsync(new byte[] { (byte)'e', 0, 0 });
        rig.Backend.Shutdown(SocketShutdown.Send);

        Assert.Equal(DeliveryEnd.DestinationClosed, await rig.Run.WaitAsync(Wait));
        Assert.Equal(["abc", "de", ""], rig.Client.Texts());
    }

    [Fact]
    public async Task RunAsync_FrameLongerThanLargestDatagram_DestinationFailedWithoutBuffering()
    {
        await using var rig = await Rig.StartAsync(MessageFramings.LengthPrefix, maxReply: 100);

        await rig.Backend.SendAsync(new byte[] { 0, 0, 0, 101, 1, 2, 3 });

        Assert.Equal(DeliveryEnd.DestinationFailed, await rig.Run.WaitAsync(Wait));
        Assert.Empty(rig.Client.Texts());
    }

    [Fact]
    public async Task RunAsync_RawBackendBytes_ChunksNoLargerThanADatagram()
    {
        await using var rig = await Rig.StartAsync(MessageFramings.Raw, maxReply: 4);

        await rig.Backend.SendAsync("0123456789"u8.ToArray());
        rig.Backend.Shutdown(SocketShutdown.Send);

        Assert.Equal(DeliveryEnd.DestinationClosed, await rig.Run.WaitAsync(Wait));
        var chunks = rig.Client.Texts();
        Assert.All(chunks, c => Assert.InRange(c.Length, 1, 4));
        Assert.Equal("0123456789", string.Concat(chunks));
    }

    [Theory]
    [InlineData(MessageFramings.LengthPrefix16, new byte[] { 0, 3 })]
    [InlineData(MessageFramings.LengthPrefix, new byte[] { 0, 0, 0, 3 })]
    public async Task OnClientMessageAsync_LengthPrefix_PrefixThenDatagram(string framing, byte[] prefix)
    {
        await using var rig = await Rig.StartAsync(framing, maxReply: 100);

        await rig.Delivery.OnClientMessageAsync("xyz"u8.ToArray(), text: false, CancellationToken.None);

        var expected = prefix.Concat("xyz"u8.ToArray()).ToArray();
        var received = new byte[expected.Length];
        var read = 0;
        using var limit = new CancellationTokenSource(Wait);
        while (read < received.Length)
        {
            read += await rig.Backend.ReceiveAsync(received.AsMemory(read), limit.Token);
        }

        Assert.Equal(expected, received);
    }

    private sealed class CollectingClient : IClientSink
    {
        private readonly Channel<byte[]> _messages = Channel.CreateUnbounded<byte[]>();

        public ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
        {
            _messages.Writer.TryWrite(payload.ToArray());
            return ValueTask.CompletedTask;
        }

        public void Close(int code, string? reason) => _messages.Writer.TryComplete();

        public List<string> Texts()
        {
            var result = new List<string>();
            while (_messages.Reader.TryRead(out var message))
            {
                result.Add(System.Text.Encoding.ASCII.GetString(message));
            }

            return result;
        }
    }

    private sealed class Rig : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();

        private Rig(TcpListener listener, Socket backend, ForwardDelivery delivery)
        {
            _listener = listener;
            Backend = backend;
            Delivery = delivery;
            Run = delivery.RunAsync(Client, _stop.Token);
        }

        public Socket Backend { get; }

        public ForwardDelivery Delivery { get; }

        public CollectingClient Client { get; } = new();

        public Task<DeliveryEnd> Run { get; }

        public static async Task<Rig> StartAsync(string framing, int maxReply)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var config = new ForwardConfig { Host = "127.0.0.1", Port = ((IPEndPoint)listener.LocalEndpoint).Port, MessageFraming = framing };
            var accept = listener.AcceptSocketAsync();
            var delivery = await ForwardDelivery.ConnectAsync(TestEgress.Connector(), "acme", config, proxyHeader: null, framing, "\n", textToClient: false, CancellationToken.None, maxReply);
            return new Rig(listener, await accept.WaitAsync(Wait), delivery);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Run;
            await Delivery.DisposeAsync();
            Backend.Dispose();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
