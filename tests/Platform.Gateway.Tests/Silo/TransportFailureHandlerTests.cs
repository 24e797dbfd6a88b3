using System.Net;
using System.Net.Sockets;
using Platform.Contracts.Http;

namespace Platform.Gateway.Tests.Silo;

public sealed class TransportFailureHandlerTests
{
    [Fact]
    public async Task BareSocketError_ReachesTheCallerAsHttpRequestException()
    {
        // What SocketsHttpHandler throws when a connection is reset before it reads the remote end point.
        using var client = new HttpClient(new TransportFailureHandler(new Throwing(new SocketException((int)SocketError.NotConnected))));

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("http://127.0.0.1:1/")));

        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.IsType<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task RealConnectionReset_IsAnHttpRequestException()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var resets = Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                using var accepted = await listener.AcceptSocketAsync();
                accepted.LingerState = new LingerOption(true, 0);
            }
        });
        using var client = new HttpClient(new TransportFailureHandler(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }));

        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://127.0.0.1:{port}/")));
        }

        await resets;
    }

    [Fact]
    public async Task Cancellation_IsNotTurnedIntoATransportFailure()
    {
        using var client = new HttpClient(new TransportFailureHandler(new Throwing(new OperationCanceledException())));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync(new Uri("http://127.0.0.1:1/")));
    }

    private sealed class Throwing(Exception error) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromException<HttpResponseMessage>(error);
    }
}
