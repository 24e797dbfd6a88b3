using Microsoft.AspNetCore.Mvc;
using Platform.AdminWeb.Silo;
using Platform.Contracts.Events;
using Platform.Contracts.Webhooks;

namespace Platform.AdminWeb.Pages.Events;

/// <summary>
/// A tenant's latest lifecycle events with their webhook delivery state, newest first, and how the gateways' webhook
/// requests (connect and messages, for <c>webhook</c> delivery) went over the last 24 hours.
/// </summary>
public sealed class IndexModel(SiloClient silo) : PortalPageModel
{
    public const int Shown = 100;

    [BindProperty(SupportsGet = true)]
    public string Slug { get; set; } = "";

    /// <summary>The newest events first.</summary>
    public IReadOnlyList<EventResponse> Events { get; private set; } = [];

    public long LastSequence { get; private set; }

    /// <summary>The newest shown event whose last attempt failed, or that waits for a webhook or a secret.</summary>
    public EventResponse? LastFailure { get; private set; }

    /// <summary>The gateways' webhook requests over the last 24 hours.</summary>
    public WebhookStatusResponse? WebhookStatus { get; private set; }

    public int Pending => Events.Count(e => e.Delivery.State == EventDeliveryStates.Pending);

    public int Delivered => Events.Count(e => e.Delivery.State == EventDeliveryStates.Delivered);

    public int Failed => Events.Count(e => e.Delivery.State == EventDeliveryStates.Failed);

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        // The API pages forward from a sequence number; the newest number comes with any page.
        var head = await silo.ListEventsAsync(Slug, 0, 1, cancellationToken);
        if (head.Problem is { Status: 404 })
        {
            return NotFound();
        }

        if (head.Problem is { } problem)
        {
            ShowProblem(problem);
            return Page();
        }

        LastSequence = head.Value!.LastSequence;
        var latest = await silo.ListEventsAsync(Slug, Math.Max(0, LastSequence - Shown), Shown, cancellationToken);
        if (latest.Problem is { } latestProblem)
        {
            ShowProblem(latestProblem);
            return Page();
        }

        Events = latest.Value!.Items.Reverse().ToList();
        LastFailure = Events.FirstOrDefault(e => e.Delivery.LastError is not null);
        var status = await silo.GetWebhookStatusAsync(Slug, cancellationToken);
        if (status.Problem is { } statusProblem)
        {
            ShowProblem(statusProblem);
            return Page();
        }

        WebhookStatus = status.Value;
        return Page();
    }

    public static string Describe(EventDelivery delivery)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return delivery.LastError is null
            ? delivery.LastStatus is { } ok ? $"HTTP {ok}" : ""
            : delivery.LastStatus is { } status ? $"{delivery.LastError} (HTTP {status})" : delivery.LastError;
    }
}
