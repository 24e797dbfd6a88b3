namespace Platform.Silo.Tenants.Grains;

/// <summary>A field error of a <see cref="TenantProblem"/> (the contracts' <c>FieldError</c>, in a serializable form).</summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.field-error")]
internal sealed record TenantFieldError(
    [property: Id(0)] string Field,
    [property: Id(1)] string Code,
    [property: Id(2)] string Message);
