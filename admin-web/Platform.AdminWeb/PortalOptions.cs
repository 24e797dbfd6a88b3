namespace Platform.AdminWeb;

/// <summary>Portal settings, bound from the <c>Platform</c> section (env <c>Platform__SiloUrl</c>, <c>Platform__OperatorKey</c>).</summary>
public sealed class PortalOptions
{
    public const string Section = "Platform";

    /// <summary>Base URL of the silo REST API.</summary>
    public string SiloUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The operator key the portal calls the silo with; never shown to anyone.</summary>
    public string OperatorKey { get; set; } = "";

    /// <summary>Hours a sign-in lasts without activity.</summary>
    public int SessionHours { get; set; } = 8;

    public void Validate()
    {
        if (!Uri.TryCreate(SiloUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidOperationException("Platform:SiloUrl must be an absolute http or https URL.");
        }

        if (string.IsNullOrWhiteSpace(OperatorKey))
        {
            throw new InvalidOperationException("Platform:OperatorKey is required (env Platform__OperatorKey).");
        }

        if (SessionHours is < 1 or > 24 * 7)
        {
            throw new InvalidOperationException("Platform:SessionHours must be between 1 and 168.");
        }
    }
}
