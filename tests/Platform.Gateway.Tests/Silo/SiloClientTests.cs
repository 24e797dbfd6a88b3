using Orleans.Runtime;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Gateway.Silo;

namespace Platform.Gateway.Tests.Silo;

/// <summary>
/// How a failed call to the cluster reaches the gateway's loops: the failures they know come through as they are; any
/// other (an answer this build cannot read, an error of the silo's own) as the silo's answer, which no loop stops on.
/// </summary>
public sealed class SiloClientTests
{
    public static TheoryData<Exception> Foreign =>
    [
        new UnsupportedWireTypeException("A WireType value of TagDelimited is expected by this codec."),
        new CodecNotFoundException("Could not find a codec for type Platform.Contracts.Internal.ConnectionEventBatch."),
        new InvalidOperationException("a grain's own error"),
        new NullReferenceException(),
    ];

    [Theory]
    [MemberData(nameof(Foreign))]
    public async Task Ask_FailureOfNoKnownKind_IsTheSilosAnswer(Exception failure)
    {
        var error = await Assert.ThrowsAsync<SiloCallFailedException>(() => SiloClient.AskAsync("SyncLeasesAsync", Task.FromException<int>(failure)));

        Assert.Same(failure, error.InnerException);
        Assert.Equal("SyncLeasesAsync", error.Call);
        Assert.Contains(failure.GetType().Name, error.Message, StringComparison.Ordinal);
        Assert.True(SiloFailure.IsAnswered(error));
        Assert.True(SiloFailure.IsExpected(error));
        Assert.False(SiloFailure.IsUnreachable(error));

        await Assert.ThrowsAsync<SiloCallFailedException>(() => SiloClient.AskAsync("LeaveAsync", Task.FromException(failure)));
    }

    public static TheoryData<Exception> Known =>
    [
        new TimeoutException(),
        new SiloUnavailableException(),
        new OrleansException("no silo took the message"),
        new ClusterUnavailableException(),
        new GatewayUnknownException(),
        new GatewayRequestRejectedException([]),
        new OperationCanceledException(),
        new TaskCanceledException(),
    ];

    [Theory]
    [MemberData(nameof(Known))]
    public async Task Ask_KnownFailureOrCancellation_ComesThroughAsItIs(Exception failure)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SiloClient.AskAsync("HeartbeatAsync", Task.FromException<int>(failure)));

        Assert.Same(failure, error);
    }

    [Fact]
    public async Task Ask_Success_ReturnsTheAnswer()
    {
        Assert.Equal(7, await SiloClient.AskAsync("SyncLeasesAsync", Task.FromResult(7)));
        await SiloClient.AskAsync("LeaveAsync", Task.CompletedTask);
    }
}
