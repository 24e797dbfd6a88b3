using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Connections;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Connections;

/// <summary>
/// The pump's fault classification with deliveries that fail on purpose, run by a real gateway's pump over a real TCP
/// connection on loopback; the close is read back from the directory of a real silo over PostgreSQL.
/// </summary>
public sealed class ConnectionPumpTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RunAsync_DeliveryFaultsUnexpectedly_ClosesWith1011InternalError()
    {
        var closed = await RunTcpAsync(new FaultingDelivery(new InvalidOperationException("a bug in a delivery")));
        Assert.Equal((ConnectionProtocols.Tcp, 1011, "internal error"), (closed.Protocol, closed.CloseCode, closed.CloseReason));
    }

    [Fact]
    public async Task RunAsync_BackendWriteFails_ClosesWith4001LikeEveryProtocol()
    {
        // A TCP or TLS connection used to record this as 4003 with the error's text; ws and DTLS said 4001.
        var closed = await RunTcpAsync(new FaultingDelivery(new IOException("Broken pipe")));
        Assert.Equal((ConnectionProtocols.Tcp, 4001, "backend failed"), (closed.Protocol, closed.CloseCode, closed.CloseReason));
    }

    [Fact]
    public async Task RunAsync_DeliveryCannotStart_RefusesWithoutListing()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        var tenant = (await gateway.WaitForTenantAsync("acme")).BySlug["acme"];
        var registry = gateway.Services.GetRequiredService<ConnectionRegistry>();
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var stream = new NetworkStream(server, ownsSocket: true))
        {
            var pipe = new StreamPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
            var id = gateway.Services.GetRequiredService<GatewayNode>().NextConnectionId();
            var remote = (IPEndPoint)server.RemoteEndPoint!;
            var local = (IPEndPoint)server.LocalEndPoint!;
            var connection = new TcpConnection(id, tenant, ConnectionProtocols.Tcp, remote, local.Port, TimeProvider.System, pipe);
            var pump = gateway.Services.GetRequiredService<ConnectionPump>();
            await pump.RunAsync(
                connection,
                connection,
                (_, _) => throw new BackendUnreachableException("127.0.0.1:1", "connection refused"),
                new ConnectionFacts(id, ConnectionProtocols.Tcp, remote, local, null, null),
                CancellationToken.None).WaitAsync(Limit);

            Assert.Null(registry.Find(id));
            Assert.Equal((4001, "backend unreachable"), (connection.CloseCode, connection.CloseReason));
        }
    }

    /// <summary>Runs one TCP connection whose delivery fails on the first client message; returns its directory entry once closed.</summary>
    private static async Task<ConnectionResponse> RunTcpAsync(IDelivery delivery)
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        var tenant = (await gateway.WaitForTenantAsync("acme")).BySlug["acme"];
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var stream = new NetworkStream(server, ownsSocket: true))
        {
            var pipe = new StreamPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
            var id = gateway.Services.GetRequiredService<GatewayNode>().NextConnectionId();
            var remote = (IPEndPoint)server.RemoteEndPoint!;
            var local = (IPEndPoint)server.LocalEndPoint!;
            var connection = new TcpConnection(id, tenant, ConnectionProtocols.Tcp, remote, local.Port, TimeProvider.System, pipe);
            var pump = gateway.Services.GetRequiredService<ConnectionPump>();
            var running = pump.RunAsync(
                connection,
                connection,
                (_, _) => ValueTask.FromResult(delivery),
                new ConnectionFacts(id, ConnectionProtocols.Tcp, remote, local, null, null),
                CancellationToken.None);

            await silo.WaitForConnectionAsync("acme", c => c.Id == id);
            await client.SendAsync("hello\n"u8.ToArray(), SocketFlags.None);

            // The fault ends the pump (nothing escapes it); the caller then closes the stream, as the listeners do.
            await running.WaitAsync(Limit);
            await pipe.Output.CompleteAsync();
            await pipe.Input.CompleteAsync();
            using var limit = new CancellationTokenSource(Limit);
            Assert.Equal(0, await client.ReceiveAsync(new byte[16], SocketFlags.None, limit.Token));
            Assert.Null(gateway.Services.GetRequiredService<ConnectionRegistry>().Find(id));
            return await silo.WaitForConnectionAsync("acme", c => c.Id == id, state: "closed");
        }
    }

    private static async Task<(Socket Server, Socket Client)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (server, client);
    }

    private sealed record StreamPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>A delivery whose every client message fails with the given exception; its destination side waits.</summary>
    private sealed class FaultingDelivery(Exception fault) : IDelivery
    {
        public ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken) =>
            ValueTask.FromException(fault);

        public async Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return DeliveryEnd.Cancelled;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
