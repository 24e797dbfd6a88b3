using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Config;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Pages.Tenants;

public sealed partial class DetailModel(SiloClient silo, TargetProbe probe) : PortalPageModel
{
    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    public TenantResponse? Tenant { get; private set; }

    /// <summary>Revision the form was built from; sent back as If-Match.</summary>
    public long Revision { get; private set; }

    public bool WebhookHasSecret { get; private set; }

    /// <summary>Form values by config path, from the stored config or from what the operator posted.</summary>
    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>The tenant's plan and what it uses of it.</summary>
    public TenantPlanResponse? Plan { get; private set; }

    /// <summary>Plan form values by field name, from the stored plan or from what the operator posted.</summary>
    public Dictionary<string, string> PlanValues { get; } = new(StringComparer.Ordinal);

    public ProbeResult? Probe { get; private set; }

    public string? ConcurrencyNotice { get; private set; }

    /// <summary>Why the configuration could not be read; the configuration card explains it instead of offering the form.</summary>
    public SiloProblem? ConfigProblem { get; private set; }

    /// <summary>The configuration could not be read because a newer release stored it.</summary>
    public bool ConfigFromNewerRelease => ConfigProblem?.Code == ErrorCodes.ConfigFromNewerRelease;

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) =>
        await LoadAsync(fillValues: true, cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostSaveAsync(long revision, bool webhookHasSecret, CancellationToken cancellationToken)
    {
        var (config, inputErrors) = ConfigFields.FromForm(name => Request.Form[name].ToString(), webhookHasSecret);
        if (config is null)
        {
            foreach (var (field, message) in inputErrors)
            {
                AddFieldError(field, message);
            }

            return await RedisplayAsync(revision, StatusCodes.Status400BadRequest, cancellationToken);
        }

        var result = await silo.ReplaceConfigAsync(Slug, config, revision, cancellationToken);
        if (result.Problem is { } problem)
        {
            if (problem.Code is ErrorCodes.StaleRevision || problem.Status == StatusCodes.Status412PreconditionFailed)
            {
                // Someone saved in between: show their configuration, never overwrite it with this form.
                var reload = await LoadAsync(fillValues: true, cancellationToken);
                ConcurrencyNotice = $"Someone else changed this configuration after you opened it (you edited revision {revision}, it is now revision {Revision}). " +
                    "Your changes were not saved. The current values are shown below; make your changes again.";
                Response.StatusCode = StatusCodes.Status409Conflict;
                return reload ?? Page();
            }

            ShowProblem(problem, "config.");
            return await RedisplayAsync(revision, problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        Flash($"Configuration saved as revision {result.Value!.Revision}; gateways pick it up within seconds.");
        return RedirectToPage(new { Slug });
    }

    public async Task<IActionResult> OnPostSavePlanAsync(CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var field in PlanField.All)
        {
            var text = Request.Form[field.FormName].ToString().Trim();
            PlanValues[field.Name] = text;
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                values[field.Name] = value;
            }
            else
            {
                AddFieldError(field.FormName, "A whole number.");
            }
        }

        if (FieldErrors.Count > 0)
        {
            return await RedisplayPlanAsync(StatusCodes.Status400BadRequest, cancellationToken);
        }

        var result = await silo.ReplacePlanAsync(Slug, PlanField.Build(values), cancellationToken);
        if (result.Problem is { } problem)
        {
            // The silo names plan fields without a prefix; on this page they sit beside the configuration's fields.
            foreach (var error in problem.Errors)
            {
                AddFieldError("plan." + error.Field, error.Message);
            }

            PageProblem = problem with { Errors = [] };
            return await RedisplayPlanAsync(problem.Status is >= 400 and < 500 ? problem.Status : StatusCodes.Status502BadGateway, cancellationToken);
        }

        Flash("Plan saved; gateways apply its ceilings within seconds. The tenant's configuration is unchanged.");
        return RedirectToPage(new { Slug });
    }

    public async Task<IActionResult> OnPostTestForwardAsync(long revision, CancellationToken cancellationToken)
    {
        var host = Request.Form["cfg.delivery.forward.host"].ToString();
        _ = int.TryParse(Request.Form["cfg.delivery.forward.port"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var port);
        Probe = await probe.ConnectTcpAsync(host, port, cancellationToken);
        return await RedisplayAsync(revision, StatusCodes.Status200OK, cancellationToken);
    }

    public async Task<IActionResult> OnPostTestWebhookAsync(long revision, CancellationToken cancellationToken)
    {
        Probe = await probe.PostWebhookAsync(Request.Form["cfg.delivery.webhook.url"].ToString(), cancellationToken);
        return await RedisplayAsync(revision, StatusCodes.Status200OK, cancellationToken);
    }

    public async Task<IActionResult> OnPostSuspendAsync(CancellationToken cancellationToken) =>
        Done(await silo.SuspendTenantAsync(Slug, cancellationToken), "Tenant suspended: new connections are refused and open ones closed.");

    public async Task<IActionResult> OnPostResumeAsync(CancellationToken cancellationToken) =>
        Done(await silo.ResumeTenantAsync(Slug, cancellationToken), "Tenant resumed.");

    public async Task<IActionResult> OnPostAllocatePortAsync(string protocol, CancellationToken cancellationToken)
    {
        var result = await silo.AllocatePortAsync(Slug, protocol, cancellationToken);
        return Done(result, result.Value is { } p ? $"Dedicated {p.Protocol} port {p.Port} allocated." : "");
    }

    public async Task<IActionResult> OnPostReleasePortAsync(int port, CancellationToken cancellationToken) =>
        Done(await silo.ReleasePortAsync(Slug, port, cancellationToken), $"Dedicated port {port} released.");

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

    private async Task<IActionResult> RedisplayAsync(long revision, int status, CancellationToken cancellationToken)
    {
        var failure = await LoadAsync(fillValues: false, cancellationToken);
        if (failure is not null)
        {
            return failure;
        }

        Revision = revision;
        WebhookHasSecret = Request.Form["webhookHasSecret"].ToString() is "true" or "True";
        foreach (var field in ConfigFields.All)
        {
            Values[field.Path] = field.Kind == ConfigFieldKind.Secret ? "" : Request.Form[field.FormName].ToString();
        }

        Response.StatusCode = status;
        return Page();
    }

    private async Task<IActionResult> RedisplayPlanAsync(int status, CancellationToken cancellationToken)
    {
        var failure = await LoadAsync(fillValues: true, cancellationToken);
        Response.StatusCode = status;
        return failure ?? Page();
    }

    private async Task<IActionResult?> LoadAsync(bool fillValues, CancellationToken cancellationToken)
    {
        var tenant = await silo.GetTenantAsync(Slug, cancellationToken);
        if (tenant.Problem is { } problem)
        {
            return NotFoundOrProblem(problem);
        }

        Tenant = tenant.Value;
        await LoadHostNamesAsync(cancellationToken);
        await LoadUsageAsync(cancellationToken);
        var plan = await silo.GetPlanAsync(Slug, cancellationToken);
        PageProblem ??= plan.Problem;
        Plan = plan.Value;
        if (Plan is not null)
        {
            // Values the operator posted stay as they were typed.
            foreach (var field in PlanField.All)
            {
                PlanValues.TryAdd(field.Name, field.Read(Plan.Plan).ToString(CultureInfo.InvariantCulture));
            }
        }

        var config = await silo.GetConfigAsync(Slug, cancellationToken);
        if (config.Problem is { } configProblem)
        {
            // A form of this release's fields would drop the newer release's settings on save: none is offered.
            ConfigProblem = configProblem;
            if (!ConfigFromNewerRelease)
            {
                PageProblem ??= configProblem;
            }

            return null;
        }

        Revision = config.Value!.Revision;
        WebhookHasSecret = config.Value.Config.Delivery.Webhook?.HasSecret == true;
        if (fillValues)
        {
            var json = ConfigFields.ToJson(config.Value.Config);
            foreach (var field in ConfigFields.All)
            {
                Values[field.Path] = ConfigFields.Display(json, field);
            }
        }

        return null;
    }
}
