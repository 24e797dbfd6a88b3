using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;

namespace Platform.Silo.Tests.Problems;

/// <summary>
/// While a lost silo is not yet declared dead, calls to its grains fail or time out. A REST request that meets one is
/// answered 503 <c>cluster_unavailable</c> with <c>Retry-After</c>, not as an internal error.
/// </summary>
public sealed class ClusterUnavailableTests
{
    public static TheoryData<Exception> Recovering => new()
    {
        new SiloUnavailableException("The silo is unavailable."),
        new TimeoutException("Response did not arrive on time."),
    };

    [Theory]
    [MemberData(nameof(Recovering))]
    public async Task GrainCallFailedWhileTheClusterRecovers_Answers503ClusterUnavailableWithRetryAfter(Exception exception)
    {
        var (status, retryAfter, problem) = await HandleAsync(exception);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, status);
        Assert.Equal("2", retryAfter);
        Assert.Equal(ErrorCodes.ClusterUnavailable, problem.GetProperty("code").GetString());
        Assert.Equal(ProblemTypes.For(ErrorCodes.ClusterUnavailable), problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task AnyOtherFault_StaysAnInternalErrorWithoutRetryAfter()
    {
        var (status, retryAfter, problem) = await HandleAsync(new InvalidOperationException("a bug"));

        Assert.Equal(StatusCodes.Status500InternalServerError, status);
        Assert.Null(retryAfter);
        Assert.Equal(ErrorCodes.Internal, problem.GetProperty("code").GetString());
    }

    private static async Task<(int Status, string? RetryAfter, JsonElement Problem)> HandleAsync(Exception exception)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "PUT";
        context.Request.Path = "/v1/tenants/acme/config";
        context.Response.Body = new MemoryStream();
        var handler = new ProblemExceptionHandler(NullLogger<ProblemExceptionHandler>.Instance);

        Assert.True(await handler.TryHandleAsync(context, exception, CancellationToken.None));

        context.Response.Body.Position = 0;
        using var document = await JsonDocument.ParseAsync(context.Response.Body);
        var retryAfter = context.Response.Headers.RetryAfter.Count == 0 ? null : context.Response.Headers.RetryAfter.ToString();
        return (context.Response.StatusCode, retryAfter, document.RootElement.Clone());
    }
}
