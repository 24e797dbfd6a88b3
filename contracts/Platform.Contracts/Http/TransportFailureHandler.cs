using System.Net.Sockets;

namespace Platform.Contracts.Http;

/// <summary>
/// Reports every transport failure of a request as <see cref="HttpRequestException"/>, the one exception
/// the platform's HTTP callers treat as "the other side is unreachable". <c>SocketsHttpHandler</c> lets
/// a few socket errors escape unwrapped: reading the remote end point of a connection that was reset
/// right after it opened throws a bare <see cref="SocketException"/> ("Transport endpoint is not
/// connected"). Unhandled, that stopped a gateway's background loop during a network partition.
/// </summary>
public sealed class TransportFailureHandler : DelegatingHandler
{
    /// <summary>For <c>IHttpClientFactory</c> pipelines, which set the inner handler.</summary>
    public TransportFailureHandler()
    {
    }

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public TransportFailureHandler(HttpMessageHandler inner)
        : base(inner)
    {
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, ex.Message, ex);
        }
    }
}
