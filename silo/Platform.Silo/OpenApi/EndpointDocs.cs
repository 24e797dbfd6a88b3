namespace Platform.Silo.OpenApi;

/// <summary>
/// What an endpoint declares in the OpenAPI document beyond its typed results: its problem answers with their codes,
/// headers and examples. <see cref="ApiOperationTransformer"/> turns the metadata into the document.
/// </summary>
internal static class EndpointDocs
{
    /// <summary>Declares a problem answer with <paramref name="status"/> and the codes it can carry (merged with the codes every endpoint of its kind can give).</summary>
    public static TBuilder Problem<TBuilder>(this TBuilder builder, int status, params string[] codes)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (codes.Length == 0)
        {
            throw new ArgumentException("A problem answer names at least one code.", nameof(codes));
        }

        return builder.WithMetadata(new DocumentedProblem(status, codes));
    }

    /// <summary>Declares a request header.</summary>
    public static TBuilder RequestHeader<TBuilder>(this TBuilder builder, string name, string description, bool required)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedHeader(null, name, description, required));

    /// <summary>Declares a header of the answer with <paramref name="status"/>.</summary>
    public static TBuilder ResponseHeader<TBuilder>(this TBuilder builder, int status, string name, string description, bool required = true)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedHeader(status, name, description, required));

    /// <summary>Declares the body of the answer with <paramref name="status"/> as <typeparamref name="TBody"/>.</summary>
    public static RouteHandlerBuilder DocumentedBody<TBody>(this RouteHandlerBuilder builder, int status) =>
        builder.WithMetadata(new DocumentedBody(status, typeof(TBody)));

    /// <summary>An example request body.</summary>
    public static TBuilder RequestExample<TBuilder>(this TBuilder builder, object example)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedExample(null, example));

    /// <summary>An example body of the answer with <paramref name="status"/>.</summary>
    public static TBuilder ResponseExample<TBuilder>(this TBuilder builder, int status, object example)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DocumentedExample(status, example));
}
