using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Certificates;
using Platform.Contracts.Psk;
using Platform.Contracts.RawKeys;

namespace Platform.AdminWeb.Pages.Tenants;

public sealed class CredentialsModel(SiloClient silo) : PortalPageModel
{
    /// <summary>Largest certificate file accepted from the browser.</summary>
    public const long MaxUploadBytes = 256 * 1024;

    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    public IReadOnlyList<CertificateResponse> Certificates { get; private set; } = [];

    public IReadOnlyList<ApiKeyResponse> ApiKeys { get; private set; } = [];

    public IReadOnlyList<PskIdentityResponse> PskIdentities { get; private set; } = [];

    public IReadOnlyList<RawPublicKeyResponse> RawPublicKeys { get; private set; } = [];

    /// <summary>A key just created: rendered in this one response only, never stored in TempData or anywhere else.</summary>
    public CreatedApiKeyResponse? CreatedKey { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostUploadAsync(IFormFile? file, string? pem, string? password, CancellationToken cancellationToken)
    {
        UploadCertificateRequest request;
        if (file is { Length: > 0 })
        {
            if (file.Length > MaxUploadBytes)
            {
                AddFieldError("file", $"The file is larger than {MaxUploadBytes / 1024} KiB.");
                return await RedisplayAsync(StatusCodes.Status400BadRequest, cancellationToken);
            }

            using var stream = new MemoryStream();
            await file.CopyToAsync(stream, cancellationToken);
            var bytes = stream.ToArray();
            var text = System.Text.Encoding.UTF8.GetString(bytes);
            request = text.Contains("-----BEGIN", StringComparison.Ordinal)
                ? new UploadCertificateRequest(Pem: text)
                : new UploadCertificateRequest(Pfx: Convert.ToBase64String(bytes), Password: string.IsNullOrEmpty(password) ? null : password);
        }
        else if (!string.IsNullOrWhiteSpace(pem))
        {
            request = new UploadCertificateRequest(Pem: pem);
        }
        else
        {
            AddFieldError("file", "Choose a PEM or PFX file, or paste PEM text.");
            return await RedisplayAsync(StatusCodes.Status400BadRequest, cancellationToken);
        }

        var result = await silo.UploadCertificateAsync(Slug, request, cancellationToken);
        if (result.Problem is { } problem)
        {
            if (problem.Errors.Count == 0)
            {
                AddFieldError("file", problem.Message);
            }
            else
            {
                ShowProblem(problem);
                foreach (var key in FieldErrors.Keys.Where(k => k is "pem" or "pfx" or "password").ToList())
                {
                    foreach (var message in FieldErrors[key])
                    {
                        AddFieldError("file", message);
                    }

                    FieldErrors.Remove(key);
                }
            }

            return await RedisplayAsync(problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        var c = result.Value!;
        Flash($"Certificate for {string.Join(", ", c.HostNames)} uploaded; valid until {Format.Time(c.NotAfter)}.");
        return RedirectToPage(new { Slug });
    }

    public async Task<IActionResult> OnPostDeleteCertificateAsync(Guid id, CancellationToken cancellationToken) =>
        Done(await silo.DeleteCertificateAsync(Slug, id, cancellationToken), "Certificate deleted; its host names no longer route to this tenant.");

    public async Task<IActionResult> OnPostCreateKeyAsync(string? name, CancellationToken cancellationToken)
    {
        var result = await silo.CreateApiKeyAsync(Slug, name?.Trim() ?? "", cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
            if (problem.Errors.Count == 0)
            {
                AddFieldError("name", problem.Message);
            }

            return await RedisplayAsync(problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        CreatedKey = result.Value;
        FlashMessage = null;
        // The secret is in this response only; the page must not be cached anywhere.
        Response.Headers.CacheControl = "no-store";
        return await RedisplayAsync(StatusCodes.Status200OK, cancellationToken);
    }

    public async Task<IActionResult> OnPostRevokeKeyAsync(Guid id, CancellationToken cancellationToken) =>
        Done(await silo.RevokeApiKeyAsync(Slug, id, cancellationToken), "API key revoked; it stops working immediately.");

    public async Task<IActionResult> OnPostCreatePskAsync(string? identity, string? key, CancellationToken cancellationToken)
    {
        var result = await silo.CreatePskIdentityAsync(Slug, new CreatePskIdentityRequest(identity?.Trim() ?? "", key?.Trim() ?? ""), cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
            if (problem.Errors.Count == 0)
            {
                AddFieldError("identity", problem.Message);
            }

            return await RedisplayAsync(problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        Flash($"PSK identity '{result.Value!.FullIdentity}' created. The key is stored encrypted and is not shown again.");
        return RedirectToPage(new { Slug });
    }

    public async Task<IActionResult> OnPostDeletePskAsync(Guid id, CancellationToken cancellationToken) =>
        Done(await silo.DeletePskIdentityAsync(Slug, id, cancellationToken), "PSK identity deleted.");

    public async Task<IActionResult> OnPostCreateRawKeyAsync(string? publicKey, string? keyName, CancellationToken cancellationToken)
    {
        var name = string.IsNullOrWhiteSpace(keyName) ? null : keyName.Trim();
        var result = await silo.CreateRawPublicKeyAsync(Slug, new CreateRawPublicKeyRequest(publicKey?.Trim() ?? "", name), cancellationToken);
        if (result.Problem is { } problem)
        {
            ShowProblem(problem);
            // The silo names "key" and "name"; on this page they are the raw key's fields, apart from the PSK form's.
            MoveErrors("key", "publicKey");
            MoveErrors("name", "keyName");
            if (problem.Errors.Count == 0)
            {
                AddFieldError("publicKey", problem.Message);
            }

            return await RedisplayAsync(problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        var created = result.Value!;
        Flash($"Raw public key {created.Fingerprint} ({created.Algorithm}) added.");
        return RedirectToPage(new { Slug });
    }

    public async Task<IActionResult> OnPostDeleteRawKeyAsync(Guid id, CancellationToken cancellationToken) =>
        Done(await silo.DeleteRawPublicKeyAsync(Slug, id, cancellationToken), "Raw public key deleted; new handshakes with it fail.");

    private void MoveErrors(string from, string to)
    {
        if (FieldErrors.Remove(from, out var messages))
        {
            foreach (var message in messages)
            {
                AddFieldError(to, message);
            }
        }
    }

    private RedirectToPageResult Done<T>(SiloResult<T> result, string message)
    {
        if (result.Problem is { } problem)
        {
            Flash(problem.Message, success: false);
        }
        else
        {
            Flash(message);
        }

        return RedirectToPage(new { Slug });
    }

    private async Task<IActionResult> RedisplayAsync(int status, CancellationToken cancellationToken)
    {
        var failure = await LoadAsync(cancellationToken);
        Response.StatusCode = status;
        return failure ?? Page();
    }

    private async Task<IActionResult?> LoadAsync(CancellationToken cancellationToken)
    {
        var certificates = await silo.ListCertificatesAsync(Slug, cancellationToken);
        if (certificates.Problem is { Status: 404 })
        {
            return NotFound();
        }

        var keys = await silo.ListApiKeysAsync(Slug, cancellationToken);
        var psk = await silo.ListPskIdentitiesAsync(Slug, cancellationToken);
        var raw = await silo.ListRawPublicKeysAsync(Slug, cancellationToken);
        PageProblem ??= certificates.Problem ?? keys.Problem ?? psk.Problem ?? raw.Problem;
        Certificates = certificates.Value?.Items ?? [];
        ApiKeys = keys.Value?.Items ?? [];
        PskIdentities = psk.Value?.Items ?? [];
        RawPublicKeys = raw.Value?.Items ?? [];
        return null;
    }
}
