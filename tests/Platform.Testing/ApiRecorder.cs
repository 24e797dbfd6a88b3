using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Platform.Testing;

/// <summary>
/// Outermost middleware of a test silo: records every request to the public API (<c>/v1</c>) with its whole answer, so
/// the answers a test saw can be held to the OpenAPI document. The body is buffered and then passed on unchanged.
/// </summary>
internal sealed class ApiRecorder(ConcurrentQueue<ApiExchange> exchanges) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal))
            {
                await nextMiddleware(context);
                return;
            }

            var original = context.Response.Body;
            await using var buffer = new MemoryStream();
            context.Response.Body = buffer;
            try
            {
                await nextMiddleware(context);
            }
            finally
            {
                context.Response.Body = original;
            }

            buffer.Position = 0;
            await buffer.CopyToAsync(original, context.RequestAborted);
            if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern })
            {
                var route = "/" + pattern.Trim('/');
                var headers = context.Response.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
                var contentType = context.Response.ContentType is { } type ? type.Split(';')[0].Trim() : null;
                exchanges.Enqueue(new ApiExchange(context.Request.Method, context.Request.Path.Value ?? "", route, context.Response.StatusCode,
                    contentType, Encoding.UTF8.GetString(buffer.ToArray()), headers));
            }
        });
        next(app);
    };
}
