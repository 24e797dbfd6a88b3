using System.Net;

namespace Platform.Testing;

/// <summary>
/// Proves host names the way an operator does (<c>POST .../host-names/{name}/approve</c>), for tests whose subject is not
/// the proof itself: custom names and certificate names route only once verified.
/// </summary>
public static class HostNameApproval
{
    /// <summary>Approves each name of the tenant with the operator's client; fails the test on any other answer than 200.</summary>
    public static async Task ApproveAsync(HttpClient operatorClient, string slug, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(operatorClient);
        ArgumentNullException.ThrowIfNull(names);
        foreach (var name in names)
        {
            using var response = await operatorClient.PostAsync(
                new Uri($"/v1/tenants/{slug}/host-names/{Uri.EscapeDataString(name)}/approve", UriKind.Relative), null);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException(
                    $"Approving {name} for {slug} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }
}
