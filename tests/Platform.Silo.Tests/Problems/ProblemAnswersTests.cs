using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using Platform.Contracts.Problems;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Problems;

/// <summary>
/// Every error the silo answers is a problem document with a stable code, a type naming that code and a trace id,
/// whichever part chose the status: an endpoint, the JSON reader, routing, or Kestrel's body limit.
/// </summary>
public sealed class ProblemAnswersTests
{
    [Fact]
    public async Task OversizedBody_ContentLengthOrChunked_AnswersBodyTooLargeProblem()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);

        foreach (var size in new[] { 1_100_000, 5_000_000 })
        {
            var body = Encoding.ASCII.GetBytes("{\"slug\":\"big\",\"displayName\":\"" + new string('a', size) + "\"}");
            var plain = await RawHttp.SendAsync(silo.BaseAddress,
                $"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{Bearer(silo)}Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n", body);
            var chunked = await RawHttp.SendAsync(silo.BaseAddress,
                $"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{Bearer(silo)}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                [.. Encoding.ASCII.GetBytes($"{body.Length:x}\r\n"), .. body, .. "\r\n0\r\n\r\n"u8]);

            foreach (var answer in new[] { plain, chunked })
            {
                Assert.Equal(413, answer.Status);
                AssertProblem(answer, ErrorCodes.BodyTooLarge);
            }
        }

        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM tenants WHERE slug = 'big'"));
    }

    [Fact]
    public async Task FrameworkChosenErrors_OverKestrel_AnswerProblemsWithCodes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);
        await CreateTenantAsync(silo.OperatorClient(), "acme");
        var auth = Bearer(silo);

        var cases = new (string Request, int Status, string Code)[]
        {
            ($"GET /v1/nothing HTTP/1.1\r\nHost: silo\r\n{auth}\r\n", 404, ErrorCodes.NotFound),
            ($"GET /v1/tenants/acme/nothing/deeper HTTP/1.1\r\nHost: silo\r\n{auth}\r\n", 404, ErrorCodes.NotFound),
            ($"DELETE /v1/tenants/acme/config HTTP/1.1\r\nHost: silo\r\n{auth}\r\n", 405, ErrorCodes.MethodNotAllowed),
            ($"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{auth}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}", 415, ErrorCodes.UnsupportedMediaType),
            ($"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{auth}Content-Type: application/json\r\nContent-Length: 0\r\n\r\n", 400, ErrorCodes.MalformedBody),
            ($"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{auth}\r\n", 400, ErrorCodes.MalformedBody),
            ($"POST /v1/tenants HTTP/1.1\r\nHost: silo\r\n{auth}Content-Type: application/json\r\nContent-Length: 3\r\n\r\nabc", 400, ErrorCodes.MalformedBody),
            ($"GET /v1/tenants/acme HTTP/1.1\r\nHost: silo\r\n\r\n", 401, ErrorCodes.Unauthenticated),
        };

        foreach (var (request, status, code) in cases)
        {
            var answer = await RawHttp.SendAsync(silo.BaseAddress, request);
            Assert.True(status == answer.Status, $"{request.Split("\r\n")[0]}: {answer.Status} {answer.Body}");
            AssertProblem(answer, code);
            if (status == 405)
            {
                Assert.Equal("GET, PUT", answer.Headers["Allow"]);
            }
        }
    }

    [Fact]
    public async Task RequestKestrelRejectsBeforeTheApp_AnswersBareStatusAndCloses()
    {
        // Kestrel refuses these while parsing, before any middleware runs, and offers no hook to write a body
        // (docs/architecture.md, "Problem documents"): the answer is the status alone, and the connection closes.
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);
        var auth = Bearer(silo);

        foreach (var request in new[]
        {
            $"GET /v1/tenants/acc2%00/config HTTP/1.1\r\nHost: silo\r\n{auth}\r\n",
            $"GET /v1 /x HTTP/1.1\r\nHost: silo\r\n{auth}\r\n",
            $"GET /v1/tenants HTTP/1.1\r\n{auth}\r\n",
        })
        {
            var answer = await RawHttp.SendAsync(silo.BaseAddress, request);
            Assert.Equal(400, answer.Status);
            Assert.Equal("close", answer.Headers["Connection"]);
            Assert.Equal("", answer.Body);
        }
    }

    public static TheoryData<string, string, string, string?, string> MalformedBodies() => new()
    {
        // method, path, body, field, what the detail says
        { "PUT", "/v1/tenants/acme/config", """{"limits":{"maxConnectinos":5}}""", "limits.maxConnectinos", "limits.maxConnectinos is not a field of limits." },
        { "PUT", "/v1/tenants/acme/config", """{"limits":{"maxConnections":"a"}}""", "limits.maxConnections", "limits.maxConnections must be a whole number" },
        { "PUT", "/v1/tenants/acme/config", """{"limits":{"maxConnections":1.5}}""", "limits.maxConnections", "limits.maxConnections must be a whole number" },
        { "PUT", "/v1/tenants/acme/config", """{"limits":[1,2]}""", "limits", "limits must be an object." },
        { "PUT", "/v1/tenants/acme/config", """{"hostNames":{"a":1}}""", "hostNames", "hostNames must be an array." },
        { "PUT", "/v1/tenants/acme/config", """{"hostNames":[1]}""", "hostNames[0]", "hostNames[0] must be a string." },
        { "PUT", "/v1/tenants/acme/config", """{"delivery":{"mode":5}}""", "delivery.mode", "delivery.mode must be a string." },
        { "PUT", "/v1/tenants/acme/config", """{"delivery":{"mode":null}}""", "delivery.mode", "delivery.mode must not be null." },
        { "PUT", "/v1/tenants/acme/config", """{"limits":{"maxConnections":5,"maxConnections":6}}""", "limits.maxConnections", "limits.maxConnections appears twice" },
        { "PUT", "/v1/tenants/acme/config", """[1]""", null, "The request body must be an object." },
        { "PUT", "/v1/tenants/acme/config", """{"limits":""", null, "The request body is not valid JSON" },
        { "POST", "/v1/tenants", """{"slug":"dup","slug":"dup2","displayName":"x"}""", "slug", "slug appears twice" },
        { "POST", "/v1/tenants", """{"slug":"dup","Slug":"dup2","displayName":"x"}""", "Slug", "Slug appears twice" },
        { "POST", "/v1/tenants", """{"slug":"x","displayName":"x","plan":{"maxConnections":true}}""", "plan.maxConnections", "plan.maxConnections must be a whole number" },
        { "POST", "/v1/tenants", """{"slug":"x","displayName":"x","colour":"red"}""", "colour", "colour is not a field of the request body." },
        { "POST", "/v1/tenants/acme/ports", """{"protocol":7}""", "protocol", "protocol must be a string." },
        { "POST", "/v1/tenants/acme/api-keys", """{"name":["a"]}""", "name", "name must be a string." },
        { "PUT", "/v1/tenants/acme/plan", """{"maxConnections":99999999999}""", "maxConnections", "maxConnections must be a whole number" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task MalformedBody_IsDescribedInTheApisOwnWords(string method, string path, string body, string? field, string detail)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var request = new HttpRequestMessage(new HttpMethod(method), Url(path)) { Content = RawJson(body) };
        request.Headers.TryAddWithoutValidation("If-Match", $"\"{tenant.ConfigRevision}\"");

        var response = await client.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.MalformedBody, field);
        using var document = JsonDocument.Parse(text);
        Assert.StartsWith(detail, document.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Platform.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.DoesNotContain(".NET", text, StringComparison.Ordinal);
        Assert.DoesNotContain("could not be", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DuplicateMember_IsRefusedAndNothingChanges()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var request = new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = RawJson("""{"limits":{"maxConnections":5,"maxConnections":6}}"""),
        };
        request.Headers.TryAddWithoutValidation("If-Match", $"\"{tenant.ConfigRevision}\"");

        var response = await client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.MalformedBody, "limits.maxConnections");
        var unchanged = (await ReadAsync<Platform.Contracts.Tenants.TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(tenant.ConfigRevision, unchanged.ConfigRevision);
    }

    private static string Bearer(SiloApp silo) => $"Authorization: Bearer {silo.OperatorKey}\r\n";

    private static void AssertProblem(RawHttp.Response answer, string code)
    {
        Assert.StartsWith("application/problem+json", answer.Headers["Content-Type"], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(answer.Body);
        var root = document.RootElement;
        Assert.Equal(code, root.GetProperty("code").GetString());
        Assert.Equal($"https://errors.platform.dev/{code}", root.GetProperty("type").GetString());
        Assert.Equal(answer.Status, root.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("traceId").GetString()));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("title").GetString()));
    }
}
