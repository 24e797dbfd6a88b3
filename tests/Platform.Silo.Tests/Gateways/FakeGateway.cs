using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Internal;

namespace Platform.Silo.Tests.Gateways;

/// <summary>A gateway's internal API on a real loopback port, recording every command it receives.</summary>
internal sealed class FakeGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeGateway(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public ConcurrentQueue<ReceivedCommand> Received { get; } = new();

    /// <summary>Status answered to connection commands; 202 unless a test wants a failure.</summary>
    public int CommandStatus { get; set; } = StatusCodes.Status202Accepted;

    /// <summary>Connection ids the gateway answers 404 for (closed on the gateway meanwhile).</summary>
    public ConcurrentDictionary<string, bool> GoneConnections { get; } = new();

    public long BroadcastDelivered { get; set; } = 3;

    public static async Task<FakeGateway> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeGateway? gateway = null;
        app.MapPost("/internal/v1/{**rest}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var path = context.Request.Path.Value!;
            gateway!.Received.Enqueue(new ReceivedCommand(path, context.Request.Headers.Authorization.ToString(), body));
            if (gateway.CommandStatus >= 300)
            {
                return Results.StatusCode(gateway.CommandStatus);
            }

            if (path.EndsWith("/broadcast", StringComparison.Ordinal))
            {
                return Results.Json(new GatewayBroadcastResponse(gateway.BroadcastDelivered));
            }

            var segments = path.Split('/');
            if (segments.Length > 4 && segments[3] == "connections" && gateway.GoneConnections.ContainsKey(Uri.UnescapeDataString(segments[4])))
            {
                return Results.NotFound();
            }

            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        gateway = new FakeGateway(app, address);
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One command as the gateway received it.</summary>
internal sealed record ReceivedCommand(string Path, string Authorization, string Body);
