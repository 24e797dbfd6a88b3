using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Connections;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>Every form of every page carries an anti-forgery token, and every form's POST without one is refused.</summary>
public sealed partial class AntiforgeryCoverageTests
{
    [Fact]
    public async Task EveryPostForm_HasToken_AndPostingItWithoutTokenIsRejected()
    {
        await using var app = await PortalApp.StartAsync();
        using (var op = app.SiloClient(app.Silo.OperatorKey))
        {
            (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
            // One of each listed credential and a dedicated port, so their revoke, delete and release forms render.
            (await op.PostAsJsonAsync("/v1/tenants/acme/api-keys", new CreateApiKeyRequest("forms"), PlatformJson.Options)).EnsureSuccessStatusCode();
            (await op.PostAsJsonAsync("/v1/tenants/acme/psk-identities", new CreatePskIdentityRequest("device-1", Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))), PlatformJson.Options)).EnsureSuccessStatusCode();
            (await op.PostAsJsonAsync("/v1/tenants/acme/ports", new AllocatePortRequest("tcp"), PlatformJson.Options)).EnsureSuccessStatusCode();
            using var rawKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            (await op.PostAsJsonAsync("/v1/tenants/acme/raw-public-keys", new Platform.Contracts.RawKeys.CreateRawPublicKeyRequest(rawKey.ExportSubjectPublicKeyInfoPem()), PlatformJson.Options)).EnsureSuccessStatusCode();
        }

        // A gateway and an open connection in the directory, so the drain, send and disconnect forms render.
        var connectionId = ConnectionId.Format("gw-forms", 1);
        await using (var source = app.Database.CreateDataSource())
        {
            await using var connection = await source.OpenConnectionAsync();
            await connection.ExecuteAsync(
                """
                INSERT INTO gateway_nodes (id, version, listeners, status, started_at, last_heartbeat_at)
                VALUES ('gw-forms', '1.0.0', ARRAY['ws:8080'], 'up', now(), now());
                INSERT INTO connections (id, tenant_id, gateway_id, protocol, remote_address, remote_port, local_port, opened_at, last_activity_at)
                SELECT @connectionId, id, 'gw-forms', 'ws', '127.0.0.1', 40000, 8080, now(), now() FROM tenants WHERE slug = 'acme';
                """,
                new { connectionId });
        }

        var client = await app.SignedInAsync();
        var pages = new[]
        {
            "/", "/Tenants", "/Tenants/acme", "/Tenants/acme/Credentials", "/Tenants/acme/Connections",
            $"/Tenants/acme/Connections/{connectionId}", "/Tenants/acme/Delete", "/Gateways", "/Operators", "/Audit",
        };
        var actions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in pages)
        {
            var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode}");
            var html = await response.Content.ReadAsStringAsync();
            foreach (Match form in FormPattern().Matches(html))
            {
                var open = form.Groups["open"].Value;
                if (!open.Contains("method=\"post\"", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                Assert.True(form.Value.Contains("name=\"__RequestVerificationToken\"", StringComparison.Ordinal), $"A form on {path} has no anti-forgery token: {open}");
                var action = ActionPattern().Match(open) is { Success: true } a ? WebUtility.HtmlDecode(a.Groups[1].Value) : path;
                actions.Add(action);
            }
        }

        // Every page with an action has at least one form; the walk would be meaningless if it found few.
        Assert.True(actions.Count >= 17, $"Only {actions.Count} form actions found: {string.Join(", ", actions)}");
        foreach (var action in actions)
        {
            var response = await client.PostAsync(new Uri(action, UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>()));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"POST {action} without a token answered {(int)response.StatusCode}");
        }

        // Nothing those posts named happened.
        using var check = app.SiloClient(app.Silo.OperatorKey);
        var tenant = await check.GetFromJsonAsync<TenantResponse>("/v1/tenants/acme", PlatformJson.Options);
        Assert.Equal(TenantStatuses.Active, tenant!.Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/Gateways", UriKind.Relative))).StatusCode);
    }

    [GeneratedRegex("(?<open><form\\b[^>]*>).*?</form>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex FormPattern();

    [GeneratedRegex("action=\"([^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex ActionPattern();
}
