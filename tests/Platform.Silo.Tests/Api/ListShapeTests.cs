using System.Net;
using System.Text.Json;
using Platform.Contracts.Operators;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Internal;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Api;

/// <summary>Every list answers one shape, <c>{items, total, offset, limit}</c>, paged by <c>offset</c> and <c>limit</c>.</summary>
public sealed class ListShapeTests
{
    [Fact]
    public async Task PortsGatewaysAndOperators_AnswerPagesWithOffsetAndLimit()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "acme");
        foreach (var protocol in new[] { "tcp", "tls", "dtls" })
        {
            Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest(protocol)))).StatusCode);
        }

        foreach (var gateway in new[] { "gw-a", "gw-b", "gw-c" })
        {
            await silo.RegisterGatewayAsync(gateway);
        }

        foreach (var name in new[] { "alice", "bob", "carol" })
        {
            Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/operators"), Json(new CreateOperatorRequest(name, "a long enough password")))).StatusCode);
        }

        foreach (var (path, second) in new[] { ("/v1/tenants/acme/ports", "tls"), ("/v1/gateways", "gw-b"), ("/v1/operators", "bob") })
        {
            var response = await op.GetAsync(Url($"{path}?offset=1&limit=1"));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = page.RootElement;
            Assert.Equal(JsonValueKind.Object, root.ValueKind);
            Assert.Equal(3, root.GetProperty("total").GetInt64());
            Assert.Equal(1, root.GetProperty("offset").GetInt32());
            Assert.Equal(1, root.GetProperty("limit").GetInt32());
            var item = Assert.Single(root.GetProperty("items").EnumerateArray());
            Assert.Contains($"\"{second}\"", item.GetRawText(), StringComparison.Ordinal);

            var invalid = await op.GetAsync(Url($"{path}?limit=0"));
            await AssertProblemAsync(invalid, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "limit");
        }
    }
}
