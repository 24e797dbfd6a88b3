using System.Text.Json;
using Platform.Contracts;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// A tenant grain's answer to a command: a problem, or the tenant as it is after the command (null once deleted) and,
/// for commands that create or return something else, that answer as its JSON. <see cref="Changed"/> says whether the
/// command committed a change (false when it found nothing to do).
/// </summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.reply")]
internal sealed record TenantReply(
    [property: Id(0)] TenantProblem? Problem,
    [property: Id(1)] TenantState? Tenant,
    [property: Id(2)] string? AnswerJson = null,
    [property: Id(3)] bool Changed = false)
{
    public T Answer<T>() =>
        JsonSerializer.Deserialize<T>(AnswerJson ?? throw new InvalidOperationException("The tenant grain answered nothing."), PlatformJson.Options)
        ?? throw new InvalidOperationException("The tenant grain answered null.");
}
