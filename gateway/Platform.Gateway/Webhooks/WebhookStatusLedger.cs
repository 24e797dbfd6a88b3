using System.Collections.Concurrent;
using System.Globalization;
using Platform.Contracts.Internal;
using Platform.Contracts.Webhooks;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// How this gateway's webhook requests went, per (UTC hour, tenant, event type, outcome), with each tenant's newest
/// failure and validation outcome, until the <see cref="WebhookStatusReporter"/> hands them to the silo, which shows them
/// to the tenant (<c>GET /v1/tenants/{slug}/webhook-status</c>). Nothing of a request or its answer is kept beyond the
/// failure kind and the HTTP status: no secret, no body.
/// </summary>
internal sealed class WebhookStatusLedger(TimeProvider time)
{
    /// <summary>Distinct count keys kept before counts given back are folded into the current hour.</summary>
    public const int MaxKeys = 20_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<Key, long> _counts = [];
    private readonly Dictionary<Guid, (WebhookFailureFact? Failure, WebhookValidationFact? Validation)> _facts = [];
    private readonly ConcurrentDictionary<string, string> _urlHashes = new(StringComparer.Ordinal);

    /// <summary>Counts not yet taken.</summary>
    public int KeyCount
    {
        get
        {
            lock (_lock)
            {
                return _counts.Count;
            }
        }
    }

    /// <summary>A request of <paramref name="eventType"/> got a usable answer (so <paramref name="url"/> passed the handshake).</summary>
    public void Delivered(Guid tenantId, string eventType, string url)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Add(new Key(Hour(now), tenantId, eventType, WebhookOutcomes.Delivered), 1);
            SetValidation(tenantId, new WebhookValidationFact(now, true, HashOf(url)));
        }
    }

    /// <summary>
    /// A request of <paramref name="eventType"/> failed as <paramref name="kind"/> (<see cref="WebhookFailureKinds"/>);
    /// <paramref name="status"/> is the HTTP status of the answer to the POST, when there was one; <paramref name="cause"/>,
    /// for <see cref="WebhookFailureKinds.NotValidated"/>, why the handshake's OPTIONS request got no answer.
    /// </summary>
    public void Failed(Guid tenantId, string eventType, string kind, int? status, string url, string? cause = null)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Add(new Key(Hour(now), tenantId, eventType, kind), 1);
            var facts = _facts.GetValueOrDefault(tenantId);
            _facts[tenantId] = (new WebhookFailureFact(now, eventType, kind, status, cause), facts.Validation);
            if (kind == WebhookFailureKinds.NotValidated)
            {
                SetValidation(tenantId, new WebhookValidationFact(now, false, HashOf(url)));
            }
            else if (status is not null)
            {
                // The POST was answered, and a POST goes out only after the URL passed the handshake.
                SetValidation(tenantId, new WebhookValidationFact(now, true, HashOf(url)));
            }
        }
    }

    /// <summary>Moves up to <paramref name="maxCounts"/> counts and every tenant's facts out, as a new report; null when there is nothing.</summary>
    public WebhookReport? Take(int maxCounts)
    {
        lock (_lock)
        {
            if (_counts.Count == 0 && _facts.Count == 0)
            {
                return null;
            }

            var counts = _counts.Take(maxCounts).Select(c => new WebhookOutcomeDelta(c.Key.Hour, c.Key.TenantId, c.Key.Event, c.Key.Outcome, c.Value)).ToList();
            foreach (var taken in counts)
            {
                _counts.Remove(new Key(taken.Hour, taken.TenantId, taken.Event, taken.Outcome));
            }

            var facts = _facts.Select(f => new WebhookTenantFacts(f.Key, f.Value.Failure, f.Value.Validation)).ToList();
            _facts.Clear();
            return new WebhookReport(Guid.NewGuid(), counts, facts);
        }
    }

    /// <summary>Gives back a report the silo refused to take; it goes with the next report (under a new id).</summary>
    public void Return(WebhookReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        lock (_lock)
        {
            var fold = _counts.Count + report.Counts.Count > MaxKeys;
            var hour = Hour(time.GetUtcNow());
            foreach (var delta in report.Counts)
            {
                Add(new Key(fold ? hour : delta.Hour, delta.TenantId, delta.Event, delta.Outcome), delta.Count);
            }

            foreach (var facts in report.Tenants)
            {
                var current = _facts.GetValueOrDefault(facts.TenantId);
                _facts[facts.TenantId] = (
                    Newer(current.Failure, facts.LastFailure, static f => f.At),
                    Newer(current.Validation, facts.Validation, static v => v.At));
            }
        }
    }

    private static T? Newer<T>(T? a, T? b, Func<T, DateTimeOffset> at)
        where T : class => a is null ? b : b is null ? a : at(b) > at(a) ? b : a;

    private void SetValidation(Guid tenantId, WebhookValidationFact validation)
    {
        var facts = _facts.GetValueOrDefault(tenantId);
        _facts[tenantId] = (facts.Failure, validation);
    }

    private void Add(Key key, long count) => _counts[key] = _counts.GetValueOrDefault(key) + count;

    private string HashOf(string url)
    {
        if (_urlHashes.TryGetValue(url, out var hash))
        {
            return hash;
        }

        hash = WebhookValidationStates.HashUrl(url);
        if (_urlHashes.Count < 10_000)
        {
            _urlHashes[url] = hash;
        }

        return hash;
    }

    private static DateTimeOffset Hour(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);

    /// <summary>
    /// The failure kind of a request that got no usable answer, from the <see cref="WebhookFailures"/> word (or the
    /// <c>status_NNN</c> of a connect answer with an unusable status) and the HTTP status of the answer; for a failed
    /// validation handshake whose OPTIONS request got no answer, the cause (<see cref="WebhookFailureKinds.ValidationCauses"/>).
    /// </summary>
    public static (string Kind, int? Status, string? Cause) Classify(string failure, int status)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var answered = status > 0 ? status : (int?)null;
        return failure switch
        {
            WebhookFailures.Timeout => (WebhookFailureKinds.Timeout, null, null),
            WebhookFailures.Forbidden => (WebhookFailureKinds.EgressRefused, null, null),
            WebhookFailures.Unreachable => (WebhookFailureKinds.ConnectionFailed, null, null),
            WebhookFailures.Redirect => (WebhookFailureKinds.Redirect, answered, null),
            WebhookFailures.TooLarge => (WebhookFailureKinds.BodyTooLarge, answered, null),
            WebhookFailures.NotValidated => (WebhookFailureKinds.NotValidated, null, null),
            WebhookFailures.NotValidatedTimeout => (WebhookFailureKinds.NotValidated, null, WebhookFailureKinds.Timeout),
            WebhookFailures.NotValidatedUnreachable => (WebhookFailureKinds.NotValidated, null, WebhookFailureKinds.ConnectionFailed),
            WebhookFailures.InvalidAnswer => (WebhookFailureKinds.Garbage, answered, null),
            // Never sent (DeliveryFactory serves webhook delivery only with a secret); counted as a request that could not be made.
            WebhookFailures.NoSecret => (WebhookFailureKinds.ConnectionFailed, null, null),
            _ when failure.StartsWith("status_", StringComparison.Ordinal)
                && int.TryParse(failure.AsSpan("status_".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var code) =>
                (WebhookFailureKinds.HttpStatus, code, null),
            _ => (WebhookFailureKinds.Garbage, answered, null),
        };
    }

    private readonly record struct Key(DateTimeOffset Hour, Guid TenantId, string Event, string Outcome);
}
