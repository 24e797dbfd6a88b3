namespace Platform.AdminWeb.Silo;

/// <summary>Names the signed-in operator to the silo, which records it as the audit actor.</summary>
internal sealed class OperatorNameHandler(IHttpContextAccessor accessor) : DelegatingHandler
{
    public const string HeaderName = "X-Operator-Name";

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var name = accessor.HttpContext?.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } n } ? n : null;
        if (name is not null)
        {
            request.Headers.Remove(HeaderName);
            request.Headers.TryAddWithoutValidation(HeaderName, name);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
