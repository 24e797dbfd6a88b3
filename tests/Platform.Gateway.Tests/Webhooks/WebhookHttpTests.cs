using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Egress;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;
using Platform.Gateway.Webhooks;
using Platform.Testing;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// The webhook client's egress rules, decided where the socket would be opened: a URL whose name resolves to a loopback,
/// private, link-local or metadata address is refused before any connection, unless the operator's policy allows it.
/// </summary>
public sealed class WebhookHttpTests
{
    private const string Secret = "whsec-test-0123456789abcdef";

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.20.30.40")]
    [InlineData("172.16.5.5")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("::1")]
    [InlineData("fd00::1")]
    public async Task Post_NameResolvesToForbiddenAddress_RefusedBeforeConnecting(string address)
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        // The receiver listens on loopback; the name below resolves to the address under test, and the policy allows nothing
        // inside: the client must refuse at the egress check, so the receiver (for 127.0.0.1) never sees a request.
        var resolver = new FixedResolver(IPAddress.Parse(address));
        using var http = new WebhookHttp(TestEgress.Connector(allowedRanges: [], resolver: resolver), Options.Create(new GatewayOptions()), TimeProvider.System, NullLogger<WebhookHttp>.Instance);
        var webhook = new WebhookConfig { Url = $"http://hooks.tenant.test:{receiver.Port}/hook", Secret = Secret, TimeoutSeconds = 5 };

        var answer = await http.PostAsync("acme", webhook, null, "connect", Guid.NewGuid().ToString(), "{}"u8.ToArray(), CancellationToken.None);

        Assert.Equal(WebhookFailures.Forbidden, answer.Failure);
        Assert.Equal(0, receiver.OptionsRequests);
        Assert.Empty(receiver.Posts);
    }

    [Fact]
    public async Task Post_LoopbackAllowedByTheOperator_ValidatesThenSendsSigned()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        using var http = new WebhookHttp(TestEgress.Connector(allowedRanges: ["127.0.0.0/8"]), Options.Create(new GatewayOptions()), TimeProvider.System, NullLogger<WebhookHttp>.Instance);
        var webhook = new WebhookConfig { Url = receiver.Url, Secret = Secret, TimeoutSeconds = 5 };

        var first = await http.PostAsync("acme", webhook, null, "connect", "e-1", """{"n":1}"""u8.ToArray(), CancellationToken.None);
        var second = await http.PostAsync("acme", webhook, null, "connect", "e-2", """{"n":2}"""u8.ToArray(), CancellationToken.None);

        Assert.True(first.Succeeded);
        Assert.True(second.Succeeded);
        Assert.Equal(1, receiver.OptionsRequests);
        Assert.Equal(["e-1", "e-2"], receiver.Posts.Select(r => r.EventId).ToArray());
        Assert.All(receiver.Posts, r => Assert.True(r.SignatureValid));
    }

    [Fact]
    public async Task Post_DuringSecretRotation_SignedWithBothSecretsUntilThePreviousOneExpires()
    {
        const string Next = "whsec-next-0123456789abcdef";
        await using var onPrevious = await WebhookReceiver.StartAsync(Secret);
        await using var onNext = await WebhookReceiver.StartAsync(Next);
        using var http = new WebhookHttp(TestEgress.Connector(allowedRanges: ["127.0.0.0/8"]), Options.Create(new GatewayOptions()), TimeProvider.System, NullLogger<WebhookHttp>.Instance);
        var live = new PreviousWebhookSecret(Secret, DateTimeOffset.UtcNow.AddHours(1));
        var expired = new PreviousWebhookSecret(Secret, DateTimeOffset.UtcNow.AddSeconds(-1));

        // A receiver that still checks the previous secret, and one that already checks the new one, both accept while
        // the previous secret is live; once it has expired only the new secret signs.
        Assert.True((await http.PostAsync("acme", new WebhookConfig { Url = onPrevious.Url, Secret = Next, TimeoutSeconds = 5 }, live, "connect", "e-1", "{}"u8.ToArray(), CancellationToken.None)).Succeeded);
        Assert.True((await http.PostAsync("acme", new WebhookConfig { Url = onNext.Url, Secret = Next, TimeoutSeconds = 5 }, live, "connect", "e-2", "{}"u8.ToArray(), CancellationToken.None)).Succeeded);
        Assert.True((await http.PostAsync("acme", new WebhookConfig { Url = onPrevious.Url, Secret = Next, TimeoutSeconds = 5 }, expired, "connect", "e-3", "{}"u8.ToArray(), CancellationToken.None)).Succeeded);

        Assert.Equal([true, false], onPrevious.Posts.Select(r => r.SignatureValid).ToArray());
        Assert.True(Assert.Single(onNext.Posts).SignatureValid);
    }

    [Fact]
    public async Task Post_WithoutSecret_NeverSent()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        using var http = new WebhookHttp(TestEgress.Connector(), Options.Create(new GatewayOptions()), TimeProvider.System, NullLogger<WebhookHttp>.Instance);

        var answer = await http.PostAsync("acme", new WebhookConfig { Url = receiver.Url }, null, "connect", "e-1", "{}"u8.ToArray(), CancellationToken.None);

        Assert.Equal(WebhookFailures.NoSecret, answer.Failure);
        Assert.Equal(0, receiver.OptionsRequests);
    }

    [Fact]
    public async Task Post_RedirectOrAnswerOverTheLimit_FailsWithoutFollowingOrKeepingIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var elsewhere = await WebhookReceiver.StartAsync(Secret);
        using var http = new WebhookHttp(TestEgress.Connector(allowedRanges: ["127.0.0.0/8"]), Options.Create(new GatewayOptions()), TimeProvider.System, NullLogger<WebhookHttp>.Instance);
        var webhook = new WebhookConfig { Url = receiver.Url, Secret = Secret, TimeoutSeconds = 5 };

        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((307, null, elsewhere.Url));
        var redirected = await http.PostAsync("acme", webhook, null, "connect", "e-1", "{}"u8.ToArray(), CancellationToken.None);
        receiver.AnswerRaw = async context =>
        {
            // Chunked (no Content-Length), one byte over the limit: only reading finds it too large.
            context.Response.StatusCode = 200;
            await context.Response.Body.WriteAsync(new byte[WebhookHttp.MaxAnswerBytes + 1], context.RequestAborted);
        };
        var huge = await http.PostAsync("acme", webhook, null, "connect", "e-2", "{}"u8.ToArray(), CancellationToken.None);
        receiver.AnswerRaw = async context =>
        {
            context.Response.StatusCode = 200;
            await context.Response.Body.WriteAsync(new byte[WebhookHttp.MaxAnswerBytes], context.RequestAborted);
        };
        var full = await http.PostAsync("acme", webhook, null, "connect", "e-3", "{}"u8.ToArray(), CancellationToken.None);

        Assert.Equal((307, WebhookFailures.Redirect), (redirected.Status, redirected.Failure));
        Assert.Equal((200, WebhookFailures.TooLarge), (huge.Status, huge.Failure));
        Assert.Empty(huge.Body);
        Assert.True(full.Succeeded);
        Assert.Equal(WebhookHttp.MaxAnswerBytes, full.Body.Length);
        Assert.Empty(elsewhere.Requests);
        Assert.Equal(["e-1", "e-2", "e-3"], receiver.Posts.Select(r => r.EventId).ToArray());
        Assert.All(receiver.Posts, r => Assert.StartsWith("application/json; charset=utf-8", r.Header("Content-Type"), StringComparison.Ordinal));
    }

    private sealed class FixedResolver(IPAddress address) : IEgressResolver
    {
        public Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken) => Task.FromResult(new[] { address });
    }
}
