using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Operators;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Operators;

/// <summary>Operator accounts for the admin portal. Operator key only: a tenant key gets 403.</summary>
internal static class OperatorsApi
{
    public const int MaxUserNameLength = 100;

    public static RouteGroupBuilder MapOperatorsApi(this RouteGroupBuilder group)
    {
        var operators = group.MapGroup("/operators").RequireAuthorization(Claims.OperatorPolicy).WithTags("Operators");
        operators.MapPost("/", CreateAsync)
            .WithName("CreateOperator")
            .WithSummary("Create a portal operator account")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.OperatorNameTaken)
            .RequestExample(ApiExamples.CreateOperator)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.Operator with { LastSignInAt = null });
        operators.MapGet("/", ListAsync)
            .WithName("ListOperators")
            .WithSummary("List portal operator accounts")
            .ResponseExample(StatusCodes.Status200OK, new Page<OperatorResponse>([ApiExamples.Operator], 1, 0, 100));
        operators.MapPost("/verify", VerifyAsync)
            .WithName("VerifyOperator")
            .WithSummary("Check an operator's password")
            .WithDescription("The portal's sign-in. Repeated failures lock the account for a while; a wrong password and a locked account answer alike.")
            .Problem(StatusCodes.Status401Unauthorized, ErrorCodes.InvalidCredentials)
            .RequestExample(ApiExamples.VerifyOperator)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.VerifiedOperator);
        return group;
    }

    private static async Task<Results<Created<OperatorResponse>, ProblemHttpResult>> CreateAsync(
        CreateOperatorRequest request, OperatorStore store, HttpContext context, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrEmpty(request.UserName))
        {
            errors.Add(new("userName", FieldErrorCodes.Required, "A user name is required."));
        }
        else if (!IsValidUserName(request.UserName))
        {
            errors.Add(new("userName", FieldErrorCodes.InvalidFormat,
                $"1..{MaxUserNameLength} of letters, digits, '.', '-', '_' and '@'."));
        }

        if (string.IsNullOrEmpty(request.Password))
        {
            errors.Add(new("password", FieldErrorCodes.Required, "A password is required."));
        }
        else if (request.Password.Length is < OperatorPasswordPolicy.MinLength or > OperatorPasswordPolicy.MaxLength)
        {
            errors.Add(new("password", FieldErrorCodes.OutOfRange,
                $"A password is {OperatorPasswordPolicy.MinLength}..{OperatorPasswordPolicy.MaxLength} characters."));
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var created = await store.CreateAsync(request, context.ActorName(), cancellationToken);
        return created is null
            ? ProblemResults.Conflict(ErrorCodes.OperatorNameTaken, $"An operator named '{request.UserName}' already exists.", "userName")
            : TypedResults.Created($"/v1/operators/{created.Id}", created);
    }

    private static async Task<Results<Ok<Page<OperatorResponse>>, ProblemHttpResult>> ListAsync(
        string? offset, string? limit, OperatorStore store, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        var (from, count) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var (items, total) = await store.ListAsync(from, count, cancellationToken);
        return TypedResults.Ok(new Page<OperatorResponse>(items, total, from, count));
    }

    private static async Task<Results<Ok<VerifiedOperatorResponse>, ProblemHttpResult>> VerifyAsync(
        VerifyOperatorRequest request, OperatorStore store, CancellationToken cancellationToken)
    {
        // Anything that is not a well-formed name and password, a tenant key pasted into the form
        // included, fails like a wrong password: the caller learns nothing about which part was wrong.
        if (string.IsNullOrEmpty(request.UserName) || !IsValidUserName(request.UserName)
            || string.IsNullOrEmpty(request.Password) || request.Password.Length > OperatorPasswordPolicy.MaxLength)
        {
            return InvalidCredentials();
        }

        // A locked account answers exactly like an unknown name or a wrong password; otherwise the lock-out
        // would tell anyone holding the portal's form which user names exist. Operators see locks in the list.
        var result = await store.VerifyAsync(request, cancellationToken);
        return result.UserName is { } name
            ? TypedResults.Ok(new VerifiedOperatorResponse(name))
            : InvalidCredentials();
    }

    private static ProblemHttpResult InvalidCredentials() =>
        ProblemResults.Problem(StatusCodes.Status401Unauthorized, ErrorCodes.InvalidCredentials, "Sign-in failed",
            "The user name or password is incorrect, or the account is locked after too many failed sign-ins.");

    private static bool IsValidUserName(string name) =>
        name.Length is > 0 and <= MaxUserNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '@');
}
