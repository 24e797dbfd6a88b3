using Npgsql;

namespace Platform.Silo.Data;

/// <summary>Classification of PostgreSQL errors the repositories turn into 409s.</summary>
internal static class DbErrors
{
    public static bool IsUniqueViolation(this PostgresException e, string? constraint = null) =>
        e.SqlState == PostgresErrorCodes.UniqueViolation && (constraint is null || e.ConstraintName == constraint);

    public static bool IsSerializationFailure(this PostgresException e) =>
        e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected;
}
