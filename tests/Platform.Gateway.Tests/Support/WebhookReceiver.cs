using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A tenant's webhook as a real Kestrel server on loopback: it passes the validation handshake (unless told not to),
/// checks every POST's signature with its own implementation of the documented format (docs/webhook-delivery.md), keeps
/// every request, and answers with what <see cref="Answer"/> returns.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _secret;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
    private readonly List<Received> _all = [];
    private int _options;

    private WebhookReceiver(WebApplication app, string secret, int port)
    {
        _app = app;
        _secret = secret;
        Port = port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    /// <summary>Whether the OPTIONS handshake is answered with <c>WebHook-Allowed-Origin</c>.</summary>
    public bool AllowOrigin { get; set; } = true;

    /// <summary>The answer to each POST: status, body (JSON or anything), and extra headers.</summary>
    public Func<Received, Task<(int Status, string? Body, string? Location)>> Answer { get; set; } = static _ => Task.FromResult<(int, string?, string?)>((204, null, null));

    public int OptionsRequests => Volatile.Read(ref _options);

    /// <summary>Every POST so far, in arrival order.</summary>
    public IReadOnlyList<Received> All
    {
        get
        {
            lock (_all)
            {
                return [.. _all];
            }
        }
    }

    public static async Task<WebhookReceiver> StartAsync(string secret)
    {
        var port = FreePorts.Tcp();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, secret, port);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        return receiver;
    }

    /// <summary>The next POST of <paramref name="type"/> (others are skipped but kept in <see cref="All"/>).</summary>
    public async Task<Received> NextAsync(string type, TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var next = await _received.Reader.ReadAsync(timeout.Token);
            if (next.Type == type)
            {
                return next;
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            Interlocked.Increment(ref _options);
            if (AllowOrigin && context.Request.Headers.TryGetValue("WebHook-Request-Origin", out var origin))
            {
                context.Response.Headers["WebHook-Allowed-Origin"] = origin.ToString();
            }

            context.Response.StatusCode = 200;
            return;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var signature = context.Request.Headers["Platform-Signature"].ToString();
        var received = new Received(
            context.Request.Headers["Platform-Event-Type"].ToString(),
            context.Request.Headers["Platform-Event-Id"].ToString(),
            context.Request.Headers["Platform-Tenant"].ToString(),
            Encoding.UTF8.GetString(body),
            SignatureValid(signature, body));
        lock (_all)
        {
            _all.Add(received);
        }

        _received.Writer.TryWrite(received);
        var (status, answer, location) = await Answer(received);
        context.Response.StatusCode = status;
        if (location is not null)
        {
            context.Response.Headers.Location = location;
        }

        if (answer is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer);
        }
    }

    /// <summary>The documented check: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, t + "." + body)&gt;</c>, at most five minutes old.</summary>
    private bool SignatureValid(string header, byte[] body)
    {
        string? timestamp = null;
        var macs = new List<string>();
        foreach (var part in header.Split(','))
        {
            var pair = part.Split('=', 2);
            if (pair.Length != 2)
            {
                return false;
            }

            if (pair[0] == "t")
            {
                timestamp = pair[1];
            }
            else if (pair[0] == "v1")
            {
                macs.Add(pair[1]);
            }
        }

        if (timestamp is null || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300)
        {
            return false;
        }

        var signed = Encoding.ASCII.GetBytes(timestamp + ".").Concat(body).ToArray();
        var expected = Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_secret), signed));
        return macs.Any(m => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(m.ToUpperInvariant()), Encoding.ASCII.GetBytes(expected)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One POST the receiver got.</summary>
    internal sealed record Received(string Type, string EventId, string Tenant, string Body, bool SignatureValid)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    }
}
