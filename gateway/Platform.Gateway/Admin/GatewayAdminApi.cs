using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Platform.Gateway.Hosting;
using Platform.Gateway.Silo;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Admin;

/// <summary>
/// The gateway's admin listener: what operators and their monitoring read (health here; Prometheus metrics through GatewayTelemetry). Nothing here
/// changes state, and only the admin listener serves it: a request that reaches another listener is answered 404.
/// </summary>
internal static class GatewayAdminApi
{
    public static IEndpointRouteBuilder MapGatewayAdminApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").AddEndpointFilter(static async (context, next) =>
        {
            var listeners = context.HttpContext.RequestServices.GetRequiredService<GatewayListeners>();
            return listeners.IsAdmin(context.HttpContext.Connection.LocalPort) ? await next(context) : Results.NotFound();
        });

        group.MapGet("/healthz", Health);
        return app;
    }

    /// <summary>Up whenever the process serves (from its snapshot too); says what it serves and whether the cluster is reachable.</summary>
    private static Ok<GatewayHealth> Health(GatewayNode node, TenantSnapshotStore store, ClusterConnection cluster, GatewayRegistration registration) =>
        TypedResults.Ok(new GatewayHealth(node.NodeId, store.Current.Revision, cluster.IsConnected, registration.Registered));
}
