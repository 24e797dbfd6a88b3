using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.Plans;
using Platform.Silo.Problems;

namespace Platform.Silo.Tenants.Grains;

/// <summary>The tenant's own row, configuration and plan.</summary>
internal sealed partial class TenantGrain
{
    public Task<TenantReply> CreateAsync(CreateTenantCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var config = Deserialize<TenantConfig>(command.ConfigJson);
        var plan = Deserialize<TenantPlan>(command.PlanJson);
        return WriteAsync(null, TenantWriteKind.Create, async write =>
        {
            if (write.Tenant is not null)
            {
                return TenantEdit.Refuse(SlugTaken());
            }

            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            try
            {
                await TenantStore.InsertAsync(connection, transaction, command.TenantId, Slug, command.DisplayName, write.Revision,
                    EffectiveConfig.MaxConnections(config, plan), write.Now, ct);
            }
            catch (PostgresException e) when (e.IsUniqueViolation("tenants_slug_key"))
            {
                // Created meanwhile outside this grain (another cluster on the same database); the routine rolls back.
                return TenantEdit.Refuse(SlugTaken());
            }

            await PlanStore.UpsertAsync(connection, transaction, command.TenantId, plan, write.Now, ct);
            await TenantConfigStore.InsertAsync(connection, transaction, command.TenantId, write.Revision, config, command.WebhookSecretEnc,
                command.Actor, write.Now, ct);
            var conflict = await HostNameClaims.RebuildAsync(connection, transaction, command.TenantId, Slug, platform.Domain, config.HostNames, write.Now, ct);
            if (conflict is not null)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail,
                    TenantConfigStore.ConflictField(conflict.Name, Slug, platform.Domain, config, "config.")));
            }

            return TenantEdit.Changed(
                new AuditEntry(command.Actor, command.TenantId, Slug, "tenant.create", Slug, RevisionAfter: write.Revision,
                    Details: new { command.DisplayName, plan }),
                stamp: false);
        });
    }

    public Task<TenantReply> RenameAsync(Guid? scope, string displayName, string actor) =>
        WriteAsync(scope, TenantWriteKind.Plain, async write =>
        {
            var tenant = write.Existing;
            var previous = await TenantStore.UpdateDisplayNameAsync(write.Connection, write.Transaction, tenant.Id, displayName, write.Now, write.CancellationToken);
            // The display name is not part of what gateways serve, so no revision is taken; the row's update time still moves.
            return string.Equals(previous, displayName, StringComparison.Ordinal)
                ? TenantEdit.Changed(null, stamp: false)
                : TenantEdit.Changed(
                    new AuditEntry(actor, tenant.Id, tenant.Slug, "tenant.update", tenant.Slug,
                        Details: new { displayName = new { from = previous, to = displayName } }),
                    stamp: false);
        });

    public Task<TenantReply> SetStatusAsync(Guid? scope, string status, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            if (tenant.Row.Status == status)
            {
                return TenantEdit.Unchanged();
            }

            await TenantStore.SetStatusAsync(write.Connection, write.Transaction, tenant.Id, status, write.CancellationToken);
            return TenantEdit.Changed(new AuditEntry(actor, tenant.Id, tenant.Slug,
                status == TenantStatuses.Suspended ? "tenant.suspend" : "tenant.resume", tenant.Slug,
                RevisionBefore: tenant.Row.Revision, RevisionAfter: write.Revision));
        });

    public Task<TenantReply> DeleteAsync(Guid? scope, string actor) =>
        WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            // Its ports cool down before they can go to another tenant; the rows outlive the tenant.
            await PortCooldowns.ReleaseAllAsync(write.Connection, write.Transaction, tenant.Id, write.Now, write.CancellationToken);
            // The tombstone carries a fresh revision so that watches past the tenant's last revision still see it go.
            await TenantStore.DeleteAsync(write.Connection, write.Transaction, tenant.Id, write.Revision, write.Now, write.CancellationToken);
            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "tenant.delete", tenant.Slug, RevisionBefore: tenant.Row.Revision, RevisionAfter: write.Revision),
                stamp: false);
        });

    public Task<TenantReply> ReplaceConfigAsync(ReplaceConfigCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var config = Deserialize<TenantConfig>(command.ConfigJson);
        return WriteAsync(command.Scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            // Decided on the state as stored (the routine reloaded it if anything else wrote since): of two writers holding
            // the same ETag, the second sees the first's revision here.
            if (tenant.Row.ConfigRevision != command.ExpectedRevision || tenant.Id != command.TenantId)
            {
                return TenantEdit.Refuse(ConfigApi.StaleRevision($"The configuration changed; its current ETag is {ConfigApi.ETag(tenant.Row.ConfigRevision)}."));
            }

            // Read under the tenant row lock, which a plan change takes too: the configuration is checked against the plan it will run under.
            var plan = await PlanStore.GetAsync(connection, transaction, tenant.Id, ct);
            var abovePlan = TenantPlanValidator.ValidateConfig(config, plan);
            if (abovePlan.Count > 0)
            {
                return TenantEdit.Refuse(ProblemResults.Validation(abovePlan));
            }

            var hostNames = await PlanStore.CustomHostNamesAsync(connection, transaction, tenant.Id, platform.Domain, config.HostNames, ct);
            if (PlanQuotas.CheckHostNames(plan, hostNames.Count) is { } exceeded)
            {
                return TenantEdit.Refuse(exceeded);
            }

            var secret = config.Delivery.Webhook is null
                ? null
                : command.NewWebhookSecretEnc ?? await TenantConfigStore.GetWebhookSecretAsync(connection, transaction, tenant.Id, tenant.Row.ConfigRevision, ct);
            await TenantConfigStore.InsertAsync(connection, transaction, tenant.Id, write.Revision, config, secret, command.Actor, write.Now, ct);
            await TenantConfigStore.SetCurrentAsync(connection, transaction, tenant.Id, write.Revision, EffectiveConfig.MaxConnections(config, plan), write.Now, ct);

            // New names start pending; only a name another tenant has verified (or covers with a verified wildcard) is refused.
            var conflict = await HostNameClaims.RebuildAsync(connection, transaction, tenant.Id, tenant.Slug, platform.Domain, config.HostNames, write.Now, ct);
            if (conflict is not null)
            {
                return TenantEdit.Refuse(ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail,
                    TenantConfigStore.ConflictField(conflict.Name, tenant.Slug, platform.Domain, config, "")));
            }

            return TenantEdit.Changed(
                new AuditEntry(command.Actor, tenant.Id, tenant.Slug, "config.replace", tenant.Slug,
                    RevisionBefore: tenant.Row.ConfigRevision, RevisionAfter: write.Revision,
                    Details: new { webhookSecretChanged = command.NewWebhookSecretEnc is not null }),
                stamp: false);
        });
    }

    public Task<TenantReply> ReplacePlanAsync(Guid? scope, string planJson, string actor)
    {
        var plan = Deserialize<TenantPlan>(planJson);
        return WriteAsync(scope, TenantWriteKind.Revision, async write =>
        {
            var tenant = write.Existing;
            var (connection, transaction, ct) = (write.Connection, write.Transaction, write.CancellationToken);
            var previous = await PlanStore.GetAsync(connection, transaction, tenant.Id, ct);
            await PlanStore.UpsertAsync(connection, transaction, tenant.Id, plan, write.Now, ct);
            await TenantConfigStore.StampEffectiveAsync(connection, transaction, tenant.Id, write.Revision,
                EffectiveConfig.MaxConnections(tenant.KnownConfig(), plan), write.Now, ct);
            var usage = await PlanStore.UsageAsync(connection, transaction, tenant.Id, platform.Domain, ct);
            return TenantEdit.Changed(
                new AuditEntry(actor, tenant.Id, tenant.Slug, "plan.replace", tenant.Slug,
                    RevisionBefore: tenant.Row.Revision, RevisionAfter: write.Revision, Details: new { from = previous, to = plan }),
                new TenantPlanResponse(plan, usage), stamp: false);
        });
    }

    private ProblemHttpResult SlugTaken() =>
        ProblemResults.Conflict(ErrorCodes.SlugTaken, $"A tenant with slug '{Slug}' already exists.", "slug");

    private static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, PlatformJson.Options) ?? throw new InvalidOperationException($"An empty {typeof(T).Name} was sent to a tenant grain.");
}
