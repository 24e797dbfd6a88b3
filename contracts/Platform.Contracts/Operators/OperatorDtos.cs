namespace Platform.Contracts.Operators;

/// <summary>Body of <c>POST /v1/operators</c>.</summary>
/// <param name="UserName">1..100 of letters, digits, '.', '-', '_', '@'; unique ignoring case.</param>
/// <param name="Password">At least 12 characters. Write-only.</param>
public sealed record CreateOperatorRequest(string UserName, string Password);

/// <summary>Body of <c>POST /v1/operators/verify</c>.</summary>
/// <param name="UserName">Operator user name.</param>
/// <param name="Password">Password to check.</param>
public sealed record VerifyOperatorRequest(string UserName, string Password);

/// <summary>An operator account. Never carries the password or its hash.</summary>
/// <param name="Id">Identifier.</param>
/// <param name="UserName">User name as created.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="LastSignInAt">Last successful verification, if any.</param>
/// <param name="LockedUntil">End of the current lock-out, if locked.</param>
public sealed record OperatorResponse(Guid Id, string UserName, DateTimeOffset CreatedAt, DateTimeOffset? LastSignInAt, DateTimeOffset? LockedUntil);

/// <summary>Answer to a successful <c>POST /v1/operators/verify</c>.</summary>
/// <param name="UserName">The operator's user name as stored (the audit actor name).</param>
public sealed record VerifiedOperatorResponse(string UserName);

/// <summary>Password and lock-out policy for operator accounts.</summary>
public static class OperatorPasswordPolicy
{
    /// <summary>Shortest accepted password.</summary>
    public const int MinLength = 12;
    /// <summary>Longest accepted password.</summary>
    public const int MaxLength = 256;
    /// <summary>Consecutive failures that lock the account.</summary>
    public const int MaxFailedAttempts = 5;
    /// <summary>Length of a lock-out in minutes.</summary>
    public const int LockoutMinutes = 15;
}
