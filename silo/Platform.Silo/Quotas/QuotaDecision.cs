namespace Platform.Silo.Quotas;

/// <summary>A grant computed by <see cref="QuotaLedger.Decide"/>, to be stored and then applied.</summary>
/// <param name="GatewayId">The gateway that asked.</param>
/// <param name="Previous">What was stored for it before.</param>
/// <param name="Stored">What is stored for it now: at least its answer and at least what it may still hold.</param>
/// <param name="Answer">The slots it is told to hold.</param>
/// <param name="Reclaiming">The answer fell short while other gateways hold unused slots.</param>
/// <param name="Reserve">Slots being reclaimed from others and reserved for this gateway (0: none).</param>
/// <param name="ReclaimFrom">Gateways whose unused slots are reclaimed and that are asked to sync at once.</param>
/// <param name="InUse">What the gateway reported in use.</param>
/// <param name="Reports">Whether the gateway reports what it holds (a gateway that does not cannot be reclaimed from).</param>
/// <param name="ReclaimDone">A reclaim from this gateway is complete: it holds no more than its answer.</param>
internal sealed record QuotaDecision(
    string GatewayId,
    int Previous,
    int Stored,
    int Answer,
    bool Reclaiming,
    int Reserve,
    IReadOnlyList<string> ReclaimFrom,
    int InUse,
    bool Reports,
    bool ReclaimDone);
