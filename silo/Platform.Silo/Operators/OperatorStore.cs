using Dapper;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using Platform.Contracts.Operators;
using Platform.Silo.Audit;
using Platform.Silo.Data;

namespace Platform.Silo.Operators;

/// <summary>Operator accounts: creation, listing and password verification with lock-out.</summary>
internal sealed partial class OperatorStore(
    NpgsqlDataSource dataSource,
    IPasswordHasher<OperatorAccount> hasher,
    PlatformClock time,
    ILogger<OperatorStore> logger)
{
    // Verifying against this hash when the user does not exist keeps the answer time the same
    // for unknown names and wrong passwords.
    private static readonly Lazy<string> s_dummyHash = new(() =>
        new PasswordHasher<OperatorAccount>().HashPassword(new OperatorAccount(Guid.Empty, "-"), Guid.NewGuid().ToString()));

    public async Task<OperatorResponse?> CreateAsync(CreateOperatorRequest request, string actor, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var now = time.GetUtcNow();
        var hash = hasher.HashPassword(new OperatorAccount(id, request.UserName), request.Password);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO operators (id, user_name, password_hash, failed_attempts, created_at)
                VALUES (@id, @UserName, @hash, 0, @now)
                """, new { id, request.UserName, hash, now }, transaction, cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.IsUniqueViolation("operators_user_name_idx"))
        {
            return null;
        }

        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(actor, null, null, "operator.create", request.UserName), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new OperatorResponse(id, request.UserName, now, null, null);
    }

    public async Task<(IReadOnlyList<OperatorResponse> Items, long Total)> ListAsync(int offset, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM operators", cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<ListRow>(new CommandDefinition(
            """
            SELECT id AS Id, user_name AS UserName, created_at AS CreatedAt, last_sign_in_at AS LastSignInAt, locked_until AS LockedUntil
            FROM operators
            ORDER BY lower(user_name), id
            OFFSET @offset LIMIT @limit
            """, new { offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(r => new OperatorResponse(r.Id, r.UserName, Utc(r.CreatedAt), Utc(r.LastSignInAt), Utc(r.LockedUntil))).ToList(), total);
    }

    public async Task<VerifyResult> VerifyAsync(VerifyOperatorRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // FOR UPDATE serialises concurrent attempts on one account, so no failure is lost from the count.
        var row = await connection.QuerySingleOrDefaultAsync<OperatorRow>(new CommandDefinition(
            """
            SELECT id AS Id, user_name AS UserName, password_hash AS PasswordHash, failed_attempts AS FailedAttempts, locked_until AS LockedUntil
            FROM operators
            WHERE lower(user_name) = lower(@UserName)
            FOR UPDATE
            """, new { request.UserName }, transaction, cancellationToken: cancellationToken));
        if (row is null)
        {
            hasher.VerifyHashedPassword(new OperatorAccount(Guid.Empty, request.UserName), s_dummyHash.Value, request.Password);
            return VerifyResult.Invalid;
        }

        // The hash is checked on a locked account too, so a locked account takes as long to refuse as a wrong password.
        var account = new OperatorAccount(row.Id, row.UserName);
        var outcome = hasher.VerifyHashedPassword(account, row.PasswordHash, request.Password);
        var actor = $"operator:{row.UserName}";
        if (Utc(row.LockedUntil) is { } lockedUntil && lockedUntil > now)
        {
            // Attempts during a lock-out do not extend it (that would let anyone keep an operator out), but they are recorded.
            await AuditWriter.WriteAsync(connection, transaction,
                new AuditEntry(actor, null, null, "operator.sign_in_while_locked", row.UserName,
                    Details: new { lockedUntil }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return VerifyResult.LockedOut(lockedUntil);
        }

        if (outcome == PasswordVerificationResult.Failed)
        {
            var failures = row.FailedAttempts + 1;
            DateTimeOffset? lockUntil = failures >= OperatorPasswordPolicy.MaxFailedAttempts
                ? now.AddMinutes(OperatorPasswordPolicy.LockoutMinutes)
                : null;
            var affected = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE operators SET failed_attempts = @failedAttempts, locked_until = @lockUntil
                WHERE id = @Id
                """, new { failedAttempts = lockUntil is null ? failures : 0, lockUntil, row.Id }, transaction, cancellationToken: cancellationToken));
            EnsureOne(affected);
            await AuditWriter.WriteAsync(connection, transaction,
                new AuditEntry(actor, null, null, lockUntil is null ? "operator.sign_in_failed" : "operator.locked_out", row.UserName,
                    Details: new { failedAttempts = failures }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            if (lockUntil is { } until)
            {
                LogLockedOut(logger, row.UserName, until);
                return VerifyResult.LockedOut(until);
            }

            return VerifyResult.Invalid;
        }

        var newHash = outcome == PasswordVerificationResult.SuccessRehashNeeded ? hasher.HashPassword(account, request.Password) : row.PasswordHash;
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE operators SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = @now, password_hash = @newHash
            WHERE id = @Id
            """, new { now, newHash, row.Id }, transaction, cancellationToken: cancellationToken));
        EnsureOne(updated);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(actor, null, null, "operator.sign_in", row.UserName), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return VerifyResult.Verified(row.UserName);
    }

    private static void EnsureOne(int affected)
    {
        if (affected != 1)
        {
            throw new InvalidOperationException($"Expected to update one operator row, updated {affected}.");
        }
    }

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Operator {UserName} locked out until {Until} after repeated failed sign-ins")]
    private static partial void LogLockedOut(ILogger logger, string userName, DateTimeOffset until);

    // Npgsql reads timestamptz as a UTC DateTime, which Dapper will not convert for a record constructor.
    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DateTimeOffset? Utc(DateTime? value) => value is { } v ? Utc(v) : null;

    private sealed record OperatorRow(Guid Id, string UserName, string PasswordHash, int FailedAttempts, DateTime? LockedUntil);

    private sealed record ListRow(Guid Id, string UserName, DateTime CreatedAt, DateTime? LastSignInAt, DateTime? LockedUntil);
}

/// <summary>The user type the password hasher is parameterised with.</summary>
internal sealed record OperatorAccount(Guid Id, string UserName);

/// <summary>Outcome of a password check.</summary>
internal sealed record VerifyResult(string? UserName, DateTimeOffset? LockedUntil)
{
    public static VerifyResult Invalid { get; } = new(null, null);

    public static VerifyResult LockedOut(DateTimeOffset until) => new(null, until);

    public static VerifyResult Verified(string userName) => new(userName, null);
}
