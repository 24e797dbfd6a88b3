using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

/// <summary>
/// A tenant's webhook: a real Kestrel server on a loopback port of its own. It answers the validation handshake with the
/// origin it was asked for and every POST with 204, unless a test sets <see cref="Answer"/>; it records every request,
/// and can be stopped and started again on the same port (the tenant's backend going down and coming back).
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    public WebhookReceiver()
    {
        Port = FreePorts.Tcp();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hooks/events";

    /// <summary>Every request received, in arrival order.</summary>
    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>Answers POSTs (after recording them) when set; null answers 204.</summary>
    public Func<HttpContext, Task>? Answer { get; set; }

    /// <summary>Answers the validation handshake when set; null echoes the request origin.</summary>
    public Func<HttpContext, Task>? AnswerOptions { get; set; }

    public IReadOnlyList<ReceivedRequest> Posts => Requests.Where(r => r.Method == "POST").ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        await receiver.StartAgainAsync();
        return receiver;
    }

    public async Task StartAgainAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, Port));
        var app = builder.Build();
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path, headers, body.ToArray()));
            if (HttpMethods.IsOptions(context.Request.Method))
            {
                if (AnswerOptions is { } options)
                {
                    await options(context);
                    return;
                }

                context.Response.Headers["WebHook-Allowed-Origin"] = context.Request.Headers["WebHook-Request-Origin"];
                context.Response.StatusCode = 200;
                return;
            }

            if (Answer is { } answer)
            {
                await answer(context);
                return;
            }

            context.Response.StatusCode = 204;
        });
        await app.StartAsync();
        _app = app;
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

/// <summary>One request as the receiver saw it.</summary>
internal sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";

    /// <summary>
    /// Verifies <c>Platform-Signature</c> as docs/webhooks.md tells a receiver to: split on commas, take <c>t</c> and
    /// every <c>v1</c>, compute HMAC-SHA256 over the ASCII timestamp, a full stop and the raw body with the secret, and
    /// accept when one <c>v1</c> equals it (compared in constant time) and the timestamp is within the tolerance.
    /// </summary>
    public bool SignedWith(string secret, TimeSpan tolerance)
    {
        long? timestamp = null;
        var signatures = new List<byte[]>();
        foreach (var part in Header("Platform-Signature").Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }

            var (key, value) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            if (key == "t" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
            {
                timestamp = t;
            }
            else if (key == "v1" && value.Length == 64)
            {
                signatures.Add(Convert.FromHexString(value));
            }
        }

        if (timestamp is null || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp.Value) > tolerance.TotalSeconds)
        {
            return false;
        }

        var signed = Encoding.ASCII.GetBytes($"{timestamp.Value}.").Concat(Body).ToArray();
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return signatures.Any(s => CryptographicOperations.FixedTimeEquals(s, expected));
    }
}
