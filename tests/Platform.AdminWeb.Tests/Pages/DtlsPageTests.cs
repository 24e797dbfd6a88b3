using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Platform.AdminWeb.Config;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.RawKeys;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>The dtls section of the config editor, and the tenant's raw public keys on its keys page.</summary>
public sealed class DtlsPageTests
{
    [Fact]
    public async Task ConfigEditor_ShowsTheDtlsFields_AndSavesCheckedBoxesPostedAsFalseThenTrue()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();

        var html = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        Assert.Contains("<legend>DTLS</legend>", html, StringComparison.Ordinal);
        foreach (var id in new[] { "cfg-dtls-heartbeatIntervalSeconds", "cfg-dtls-heartbeatTimeoutSeconds", "cfg-dtls-connectionIds-enabled", "cfg-dtls-connectionIds-length", "cfg-dtls-rawPublicKeys-enabled" })
        {
            Assert.Contains($"id=\"{id}\"", html, StringComparison.Ordinal);
        }

        var config = await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options);
        // Posted as a browser posts the form: each switch's hidden "false" first, then "true" for the checked boxes.
        var fields = Form(config!, new Dictionary<string, string[]>
        {
            ["cfg.dtls.heartbeatIntervalSeconds"] = ["60"],
            ["cfg.dtls.heartbeatTimeoutSeconds"] = ["20"],
            ["cfg.dtls.connectionIds.enabled"] = ["false", "true"],
            ["cfg.dtls.connectionIds.length"] = ["12"],
            ["cfg.dtls.rawPublicKeys.enabled"] = ["false", "true"],
        });

        var response = await PostAsync(client, "/Tenants/acme?handler=Save", fields, "/Tenants/acme");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var saved = (await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options))!.Config.Dtls;
        Assert.Equal(new DtlsConfig
        {
            HeartbeatIntervalSeconds = 60,
            HeartbeatTimeoutSeconds = 20,
            ConnectionIds = new DtlsConnectionIdConfig { Enabled = true, Length = 12 },
            RawPublicKeys = new DtlsRawPublicKeyConfig { Enabled = true },
        }, saved);
        var page = await client.GetStringAsync(new Uri("/Tenants/acme", UriKind.Relative));
        Assert.Matches("id=\"cfg-dtls-connectionIds-enabled\"[^>]*checked", page);

        // Unchecked boxes post only the hidden "false": the switches turn off again.
        config = await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options);
        fields = Form(config!, new Dictionary<string, string[]>
        {
            ["cfg.dtls.connectionIds.enabled"] = ["false"],
            ["cfg.dtls.rawPublicKeys.enabled"] = ["false"],
        });
        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync(client, "/Tenants/acme?handler=Save", fields, "/Tenants/acme")).StatusCode);
        saved = (await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options))!.Config.Dtls;
        Assert.Equal((false, false, 60), (saved.ConnectionIds.Enabled, saved.RawPublicKeys.Enabled, saved.HeartbeatIntervalSeconds));
    }

    [Fact]
    public async Task ConfigEditor_BadDtlsValues_ShowEachErrorNextToItsFieldAndKeepTheConfig()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();
        var config = await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options);
        var fields = Form(config!, new Dictionary<string, string[]>
        {
            ["cfg.dtls.heartbeatIntervalSeconds"] = ["10"],
            ["cfg.dtls.heartbeatTimeoutSeconds"] = ["30"],
            ["cfg.dtls.connectionIds.length"] = ["40"],
        });

        var response = await PostAsync(client, "/Tenants/acme?handler=Save", fields, "/Tenants/acme");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        AssertErrorInField(body, "dtls.heartbeatTimeoutSeconds", "must not exceed dtls.heartbeatIntervalSeconds");
        AssertErrorInField(body, "dtls.connectionIds.length", "Must be between 4 and 16.");
        var stored = await op.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options);
        Assert.Equal(config!.Revision, stored!.Revision);
        Assert.Equal(new DtlsConfig(), stored.Config.Dtls);
    }

    [Fact]
    public async Task KeysPage_AddsListsAndDeletesRawPublicKeys_AndShowsRefusalsAtTheKeyField()
    {
        await using var app = await PortalApp.StartAsync();
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme"), PlatformJson.Options)).EnsureSuccessStatusCode();
        var client = await app.SignedInAsync();
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(ec.ExportSubjectPublicKeyInfo()));
        const string KeysPage = "/Tenants/acme/Credentials";

        var added = await PortalApp.PostFormAsync(client, KeysPage + "?handler=CreateRawKey",
            new Dictionary<string, string> { ["publicKey"] = ec.ExportSubjectPublicKeyInfoPem().Replace("\n", "\r\n", StringComparison.Ordinal), ["keyName"] = "meter 7" }, tokenFrom: KeysPage);

        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        var html = await client.GetStringAsync(new Uri(KeysPage, UriKind.Relative));
        Assert.Contains($"<code class=\"fingerprint\">{fingerprint}</code>", html, StringComparison.Ordinal);
        Assert.Contains("meter 7", html, StringComparison.Ordinal);
        Assert.Contains("ec-p256", html, StringComparison.Ordinal);
        Assert.Contains($"Raw public key {fingerprint} (ec-p256) added.", html, StringComparison.Ordinal);
        var listed = await op.GetFromJsonAsync<Page<RawPublicKeyResponse>>("/v1/tenants/acme/raw-public-keys", PlatformJson.Options);
        var key = Assert.Single(listed!.Items);
        Assert.Equal((fingerprint, "meter 7"), (key.Fingerprint, key.Name));

        // A private key is refused at the key field and is not echoed back into the page.
        var privatePem = ec.ExportPkcs8PrivateKeyPem();
        var refused = await PortalApp.PostFormAsync(client, KeysPage + "?handler=CreateRawKey",
            new Dictionary<string, string> { ["publicKey"] = privatePem }, tokenFrom: KeysPage);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var refusedBody = await refused.Content.ReadAsStringAsync();
        Assert.Contains("This is a private key.", refusedBody, StringComparison.Ordinal);
        Assert.DoesNotContain(privatePem.Split('\n')[1][..32], refusedBody, StringComparison.Ordinal);
        var duplicate = await PortalApp.PostFormAsync(client, KeysPage + "?handler=CreateRawKey",
            new Dictionary<string, string> { ["publicKey"] = ec.ExportSubjectPublicKeyInfoPem() }, tokenFrom: KeysPage);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Contains("already trusts the key", await duplicate.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var deleted = await PortalApp.PostFormAsync(client, KeysPage + "?handler=DeleteRawKey",
            new Dictionary<string, string> { ["id"] = key.Id.ToString() }, tokenFrom: KeysPage);

        Assert.Equal(HttpStatusCode.Redirect, deleted.StatusCode);
        Assert.Empty((await op.GetFromJsonAsync<Page<RawPublicKeyResponse>>("/v1/tenants/acme/raw-public-keys", PlatformJson.Options))!.Items);
        var after = await client.GetStringAsync(new Uri(KeysPage, UriKind.Relative));
        Assert.Contains("No raw public keys.", after, StringComparison.Ordinal);
        Assert.Contains("Raw public key deleted", after, StringComparison.Ordinal);
    }

    /// <summary>Every config field as the editor shows <paramref name="config"/>, with <paramref name="changes"/> posted instead.</summary>
    private static List<KeyValuePair<string, string>> Form(ConfigResponse config, Dictionary<string, string[]> changes)
    {
        var shown = ConfigFields.ToJson(config.Config);
        var fields = new List<KeyValuePair<string, string>>
        {
            new("revision", config.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("webhookHasSecret", "false"),
        };
        foreach (var field in ConfigFields.All)
        {
            string[] values = changes.TryGetValue(field.FormName, out var changed) ? changed
                : field.Kind == ConfigFieldKind.Switch ? (ConfigFields.Display(shown, field) == "true" ? ["false", "true"] : ["false"])
                : [ConfigFields.Display(shown, field)];
            fields.AddRange(values.Select(v => new KeyValuePair<string, string>(field.FormName, v)));
        }

        return fields;
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, List<KeyValuePair<string, string>> fields, string tokenFrom)
    {
        var page = await client.GetStringAsync(new Uri(tokenFrom, UriKind.Relative));
        var token = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"");
        Assert.True(token.Success, "No anti-forgery token on the page.");
        fields.Add(new("__RequestVerificationToken", token.Groups[1].Value));
        return await client.PostAsync(new Uri(path, UriKind.Relative), new FormUrlEncodedContent(fields));
    }

    private static void AssertErrorInField(string html, string path, string message)
    {
        var start = html.IndexOf($"data-field=\"{path}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"No field {path} on the page.");
        var end = html.IndexOf("data-field=", start + 12, StringComparison.Ordinal);
        var block = html[start..(end < 0 ? html.Length : end)];
        Assert.Contains(message, block, StringComparison.Ordinal);
    }
}
