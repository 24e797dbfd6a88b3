using System.Net;
using Platform.Contracts.Egress;
using Platform.Contracts.Events;
using Platform.Silo.Events;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

public sealed class WebhookClientTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("0x7f.1")]
    [InlineData("2130706433")]
    [InlineData("localhost")]
    [InlineData("api.localhost")]
    [InlineData("[::1]")]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.10")]
    [InlineData("169.254.169.254")]
    [InlineData("[fd00:ec2::254]")]
    [InlineData("0.0.0.0")]
    [InlineData("not a host")]
    public async Task ConnectAsync_ForbiddenHost_RefusedBeforeConnecting(string host)
    {
        var error = await Assert.ThrowsAsync<WebhookEgressException>(
            async () => await WebhookClient.ConnectAsync(EgressPolicy.Default, new DnsEndPoint(host.Trim('[', ']'), 443), CancellationToken.None));
        Assert.NotEmpty(error.Message);
    }

    [Fact]
    public async Task ConnectAsync_LoopbackAllowedByTheOperator_Connects()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var policy = new EgressOptions { AllowedRanges = ["127.0.0.0/8"] }.ToPolicy();

        await using var stream = await WebhookClient.ConnectAsync(policy, new DnsEndPoint("127.0.0.1", receiver.Port), CancellationToken.None);

        Assert.True(stream.CanWrite);
        // Still refused: an allowed range does not open other classes.
        await Assert.ThrowsAsync<WebhookEgressException>(
            async () => await WebhookClient.ConnectAsync(policy, new DnsEndPoint("169.254.169.254", 80), CancellationToken.None));
    }

    [Fact]
    public void Backoff_Doubles_StaysInItsUpperHalf_AndIsCapped()
    {
        var options = new EventOptions { RetryBaseMilliseconds = 1000, RetryMaxSeconds = 60 };

        Assert.Equal(TimeSpan.FromMilliseconds(500), options.Backoff(1, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(1000), options.Backoff(1, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(4000), options.Backoff(3, 1));
        Assert.Equal(TimeSpan.FromSeconds(60), options.Backoff(30, 1));
        Assert.Equal(TimeSpan.FromSeconds(30), options.Backoff(100, 0));
    }
}
