using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Cluster;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Gateways;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Connections;

/// <summary>A tenant's connections: the directory, and commands routed to the owning gateway.</summary>
internal static class ConnectionsApi
{
    private static readonly string[] Protocols =
        [ConnectionProtocols.Tcp, ConnectionProtocols.Tls, ConnectionProtocols.Ws, ConnectionProtocols.Wss, ConnectionProtocols.Dtls];

    public static RouteGroupBuilder MapConnectionsApi(this RouteGroupBuilder group)
    {
        var tenant = group.MapGroup("/tenants/{slug}").WithTags("Connections");
        tenant.MapGet("/connections", ListAsync)
            .WithName("ListConnections")
            .WithSummary("List a tenant's connections")
            .WithDescription("The connection directory: open connections on every gateway, and those closed within the silo's retention window.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Connections);
        tenant.MapGet("/connections/{id}", GetAsync)
            .WithName("GetConnection")
            .WithSummary("Get a connection")
            .Problem(StatusCodes.Status404NotFound, ErrorCodes.ConnectionNotFound)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Connection);
        tenant.MapPost("/connections/{id}/messages", SendAsync)
            .WithName("SendMessage")
            .WithSummary("Send a message to a connection")
            .WithDescription("Routed to the gateway holding the connection; `202` means that gateway took it for delivery.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status404NotFound, ErrorCodes.ConnectionNotFound)
            .Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.NoGateway, ErrorCodes.GatewayUnavailable)
            .RequestExample(ApiExamples.SendMessage);
        tenant.MapPost("/connections/{id}/disconnect", DisconnectAsync)
            .WithName("DisconnectConnection")
            .WithSummary("Disconnect a connection")
            .WithDescription("Closes the connection on its gateway, with the WebSocket close code and reason for ws and wss.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status404NotFound, ErrorCodes.ConnectionNotFound)
            .Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.NoGateway, ErrorCodes.GatewayUnavailable)
            .RequestExample(ApiExamples.Disconnect);
        tenant.MapPost("/broadcast", BroadcastAsync)
            .WithName("Broadcast")
            .WithSummary("Send a message to every open connection")
            .WithDescription("Sent through every running gateway; the answer counts the connections it was delivered to.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.NoGateway, ErrorCodes.GatewayUnavailable)
            .RequestExample(ApiExamples.SendMessage)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Broadcast);
        return group;
    }

    private static async Task<Results<Ok<Page<ConnectionResponse>>, ProblemHttpResult>> ListAsync(
        string slug, HttpContext context, NpgsqlDataSource dataSource, ConnectionDirectory directory,
        [FromQuery] string? state, [FromQuery] string? protocol, [FromQuery] string? remoteAddress, [FromQuery] string? gateway,
        [FromQuery] string? offset, [FromQuery] string? limit)
    {
        var errors = new List<FieldError>();
        state ??= ConnectionDirectory.StateOpen;
        if (state is not (ConnectionDirectory.StateOpen or ConnectionDirectory.StateClosed or ConnectionDirectory.StateAll))
        {
            errors.Add(new("state", FieldErrorCodes.InvalidChoice, "One of open, closed, all."));
        }

        if (protocol is not null && !Protocols.Contains(protocol))
        {
            errors.Add(new("protocol", FieldErrorCodes.InvalidChoice, $"One of {string.Join(", ", Protocols)}."));
        }

        var (from, count) = Paging.Parse(offset, limit, errors);

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var tenant = await ResolveAsync(dataSource, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var query = new ConnectionQuery(state, protocol, NullIfEmpty(remoteAddress), NullIfEmpty(gateway), from, count);
        return TypedResults.Ok(await directory.ListAsync(tenant.Id, query, context.RequestAborted));
    }

    private static async Task<Results<Ok<ConnectionResponse>, ProblemHttpResult>> GetAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource, ConnectionDirectory directory)
    {
        var tenant = await ResolveAsync(dataSource, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        return await directory.GetAsync(tenant.Id, id, context.RequestAborted) is { } connection
            ? TypedResults.Ok(connection)
            : ConnectionNotFound(id);
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> SendAsync(
        string slug, string id, SendMessageRequest request, HttpContext context, NpgsqlDataSource dataSource,
        ConnectionDirectory directory, GatewayCommandClient commands)
    {
        var errors = ConnectionCommandValidation.Validate(request);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var tenant = await ResolveAsync(dataSource, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var (problem, _) = await RouteCommandAsync(directory, commands, tenant.Id, id, new SendCommand(id, request), context.RequestAborted);
        return problem ?? (Results<Accepted, ProblemHttpResult>)TypedResults.Accepted((string?)null);
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> DisconnectAsync(
        string slug, string id, DisconnectRequest request, HttpContext context, NpgsqlDataSource dataSource,
        ConnectionDirectory directory, GatewayCommandClient commands, PlatformClock time)
    {
        var errors = ConnectionCommandValidation.Validate(request);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var tenant = await ResolveAsync(dataSource, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var (problem, gatewayId) = await RouteCommandAsync(directory, commands, tenant.Id, id, new DisconnectCommand(id, request), context.RequestAborted);
        if (problem is not null)
        {
            return problem;
        }

        // Audited once the owning gateway took the command: a refused disconnect changed nothing.
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await using var transaction = await connection.BeginTransactionAsync(context.RequestAborted);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "connection.disconnect", id, Details: new { request.Code, request.Reason, gateway = gatewayId }),
            time.GetUtcNow(), context.RequestAborted);
        await transaction.CommitAsync(context.RequestAborted);
        return TypedResults.Accepted((string?)null);
    }

    private static async Task<Results<Ok<BroadcastResponse>, ProblemHttpResult>> BroadcastAsync(
        string slug, SendMessageRequest request, HttpContext context, NpgsqlDataSource dataSource,
        ConnectionDirectory directory, GatewayCommandClient commands)
    {
        var errors = ConnectionCommandValidation.Validate(request);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var tenant = await ResolveAsync(dataSource, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var (holding, anyLive) = await directory.BroadcastTargetsAsync(tenant.Id, context.RequestAborted);
        if (!anyLive)
        {
            return NoGateway("No gateway is running, so the broadcast cannot be delivered.");
        }

        var command = new BroadcastCommand(tenant.Id, request);
        var results = await Task.WhenAll(holding.Select(async gatewayId =>
            (Id: gatewayId, Result: await commands.ExecuteAsync(gatewayId, command, context.RequestAborted))));
        var delivered = results.Where(r => r.Result.Status == GatewayCallStatus.Accepted).Sum(r => r.Result.Delivered);
        var failed = results.Where(r => r.Result.Status != GatewayCallStatus.Accepted).Select(r => r.Id).ToList();
        if (failed.Count > 0)
        {
            return ProblemResults.Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.GatewayUnavailable, "Gateway unavailable",
                $"Delivered to {delivered} connections on {results.Length - failed.Count} gateways; gateways {string.Join(", ", failed)} did not take the broadcast.");
        }

        return TypedResults.Ok(new BroadcastResponse(delivered, results.Length));
    }

    /// <summary>Sends a command to the gateway named by the connection id; a problem when it cannot be delivered.</summary>
    private static async Task<(ProblemHttpResult? Problem, string? GatewayId)> RouteCommandAsync(
        ConnectionDirectory directory, GatewayCommandClient commands, Guid tenantId, string id, GatewayCommand command, CancellationToken cancellationToken)
    {
        var target = await directory.RouteAsync(tenantId, id, cancellationToken);
        if (target is null)
        {
            return (ConnectionNotFound(id), null);
        }

        if (target.GatewayStatus is not (GatewayStatuses.Up or GatewayStatuses.Draining))
        {
            return (NoGateway($"Gateway '{target.GatewayId}', which holds connection '{id}', is not running."), target.GatewayId);
        }

        var call = await commands.ExecuteAsync(target.GatewayId, command, cancellationToken);
        return call.Status switch
        {
            GatewayCallStatus.Accepted => (null, target.GatewayId),
            GatewayCallStatus.NotFound => (ConnectionNotFound(id), target.GatewayId),
            GatewayCallStatus.Invalid => (ProblemResults.Validation([.. call.Errors ?? []]), target.GatewayId),
            _ => (ProblemResults.Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.GatewayUnavailable, "Gateway unavailable",
                $"Gateway '{target.GatewayId}', which holds connection '{id}', did not take the command; retry later."), target.GatewayId),
        };
    }

    private static async Task<TenantRef?> ResolveAsync(NpgsqlDataSource dataSource, HttpContext context, string slug)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        return await TenantAccess.ResolveAsync(connection, context, slug);
    }

    private static ProblemHttpResult ConnectionNotFound(string id) =>
        ProblemResults.Problem(StatusCodes.Status404NotFound, ErrorCodes.ConnectionNotFound, "Connection not found",
            $"Connection '{id}' is not an open connection of this tenant.");

    private static ProblemHttpResult NoGateway(string detail) =>
        ProblemResults.Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.NoGateway, "No gateway", detail);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
