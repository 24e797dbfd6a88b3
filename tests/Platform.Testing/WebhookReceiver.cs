using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Platform.Testing;

/// <summary>
/// A tenant's webhook as a real Kestrel server on a loopback port of its own. It records every request (the validation
/// handshake's <c>OPTIONS</c> included), answers the handshake with the origin it was asked for (unless
/// <see cref="AllowOrigin"/> is off or <see cref="AnswerOptions"/> is set), and every POST with 204 unless a test sets
/// <see cref="Answer"/> (status, JSON body, <c>Location</c>) or, for answers that need the raw response (slow, huge,
/// chunked), <see cref="AnswerRaw"/>. It can be stopped and started again on the same port (the tenant's backend going
/// down and coming back). Signatures are checked by <see cref="WebhookRequest.SignedWith"/>, written from the documented
/// format, never by the product's code.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly string? _secret;
    private readonly Channel<WebhookRequest> _posts = Channel.CreateUnbounded<WebhookRequest>();
    private WebApplication? _app;

    private WebhookReceiver(string? secret)
    {
        _secret = secret;
        Port = FreePorts.Tcp();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    /// <summary>Whether the handshake is answered with <c>WebHook-Allowed-Origin</c> (when <see cref="AnswerOptions"/> is null).</summary>
    public bool AllowOrigin { get; set; } = true;

    /// <summary>Answers the validation handshake when set.</summary>
    public Func<HttpContext, Task>? AnswerOptions { get; set; }

    /// <summary>Answers each POST (after recording it) with a status, a JSON body (or none) and a <c>Location</c> (or none).</summary>
    public Func<WebhookRequest, Task<(int Status, string? Body, string? Location)>>? Answer { get; set; }

    /// <summary>Answers each POST (after recording it) by writing the response itself; before <see cref="Answer"/>.</summary>
    public Func<HttpContext, Task>? AnswerRaw { get; set; }

    /// <summary>Every request received, in arrival order.</summary>
    public ConcurrentQueue<WebhookRequest> Requests { get; } = new();

    /// <summary>Every POST so far, in arrival order.</summary>
    public IReadOnlyList<WebhookRequest> Posts => [.. Requests.Where(r => r.Method == "POST")];

    /// <summary>How many validation handshakes were asked.</summary>
    public int OptionsRequests => Requests.Count(r => r.Method == "OPTIONS");

    /// <summary>
    /// Starts a receiver; with a <paramref name="secret"/>, every POST's <see cref="WebhookRequest.SignatureValid"/> says
    /// whether it verifies with it (five minutes' tolerance).
    /// </summary>
    public static async Task<WebhookReceiver> StartAsync(string? secret = null)
    {
        var receiver = new WebhookReceiver(secret);
        await receiver.StartAgainAsync();
        return receiver;
    }

    public async Task StartAgainAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        _app = app;
    }

    /// <summary>The next POST whose <c>Platform-Event-Type</c> is <paramref name="type"/> (others are skipped, kept in <see cref="Requests"/>).</summary>
    public async Task<WebhookRequest> NextAsync(string type, TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var next = await _posts.Reader.ReadAsync(timeout.Token);
            if (next.Type == type)
            {
                return next;
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new WebhookRequest(context.Request.Method, context.Request.Path, headers, buffer.ToArray());
        if (_secret is not null && request.Method == "POST")
        {
            request = request with { SignatureValid = request.SignedWith(_secret, TimeSpan.FromMinutes(5)) };
        }

        Requests.Enqueue(request);
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            if (AnswerOptions is { } options)
            {
                await options(context);
                return;
            }

            if (AllowOrigin && context.Request.Headers.TryGetValue("WebHook-Request-Origin", out var origin))
            {
                context.Response.Headers["WebHook-Allowed-Origin"] = origin.ToString();
            }

            context.Response.StatusCode = 200;
            return;
        }

        _posts.Writer.TryWrite(request);
        if (AnswerRaw is { } raw)
        {
            await raw(context);
            return;
        }

        if (Answer is not { } answer)
        {
            context.Response.StatusCode = 204;
            return;
        }

        var (status, body, location) = await answer(request);
        context.Response.StatusCode = status;
        if (location is not null)
        {
            context.Response.Headers.Location = location;
        }

        if (body is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(body, context.RequestAborted);
        }
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
