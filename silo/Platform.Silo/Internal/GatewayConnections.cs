using System.Data.Common;
using Dapper;

namespace Platform.Silo.Internal;

/// <summary>The connections a gateway held, as the directory lists them.</summary>
internal static class GatewayConnections
{
    /// <summary>
    /// Closes every connection the directory still lists open on <paramref name="nodeIds"/>, in the caller's
    /// transaction (the one that changes those gateways' status); returns how many were closed.
    /// </summary>
    public static Task<int> CloseAsync(
        DbConnection connection, DbTransaction transaction, string[] nodeIds, string reason, int? closeCode, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE connections SET closed_at = @now, close_code = COALESCE(@closeCode, close_code), close_reason = @reason
            WHERE gateway_id = ANY(@nodeIds) AND closed_at IS NULL
            """,
            new { nodeIds, now, reason, closeCode }, transaction, cancellationToken: cancellationToken));
}
