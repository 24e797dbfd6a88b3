using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.Operators;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Operators;

public sealed class OperatorsApiTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task Verify_RightPassword_ReturnsNameAndAudits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("alice", Password))).StatusCode);

        var response = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("ALICE", Password));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("alice", (await response.Content.ReadFromJsonAsync<VerifiedOperatorResponse>(PlatformJson.Options))!.UserName);
        await using var source = database.CreateDataSource();
        await using var connection = await source.OpenConnectionAsync();
        var actions = (await connection.QueryAsync<string>("SELECT action FROM audit_log ORDER BY id")).ToList();
        Assert.Equal(["operator.create", "operator.sign_in"], actions);
        var hash = await connection.QuerySingleAsync<string>("SELECT password_hash FROM operators");
        Assert.DoesNotContain(Password, hash, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WrongPasswordOrUnknownUser_Returns401InvalidCredentials()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("alice", Password));

        var wrong = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", "not the password"));
        var unknown = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("bob", Password));

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal("invalid_credentials", await CodeOf(wrong));
        Assert.Equal("invalid_credentials", await CodeOf(unknown));
    }

    [Fact]
    public async Task Verify_FiveFailures_LocksOutFor15MinutesEvenWithRightPassword()
    {
        await using var database = await TestDatabase.CreateAsync();
        var clock = new ManualTimeProvider();
        await using var silo = new SiloApp(database) { Time = clock };
        var client = silo.OperatorClient();
        await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("alice", Password));

        for (var i = 0; i < OperatorPasswordPolicy.MaxFailedAttempts - 1; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", "wrong password!"))).StatusCode);
        }

        var fifth = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", "wrong password!"));
        var whileLocked = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", Password));
        var listed = await client.GetFromJsonAsync<Page<OperatorResponse>>("/v1/operators", PlatformJson.Options);
        clock.Advance(TimeSpan.FromMinutes(OperatorPasswordPolicy.LockoutMinutes) + TimeSpan.FromSeconds(1));
        var after = await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", Password));

        Assert.Equal(HttpStatusCode.Unauthorized, fifth.StatusCode);
        Assert.Equal("invalid_credentials", await CodeOf(fifth));
        Assert.Equal(HttpStatusCode.Unauthorized, whileLocked.StatusCode);
        Assert.Equal("invalid_credentials", await CodeOf(whileLocked));
        Assert.NotNull(Assert.Single(listed!.Items).LockedUntil);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        await using var source = database.CreateDataSource();
        await using var connection = await source.OpenConnectionAsync();
        var actions = (await connection.QueryAsync<string>("SELECT action FROM audit_log WHERE action LIKE 'operator.%' ORDER BY id")).ToList();
        Assert.Equal(
            ["operator.create", .. Enumerable.Repeat("operator.sign_in_failed", OperatorPasswordPolicy.MaxFailedAttempts - 1),
                "operator.locked_out", "operator.sign_in_while_locked", "operator.sign_in"],
            actions);
    }

    [Fact]
    public async Task Verify_UnknownUserWrongPasswordAndLockedAccount_AnswerAlike()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("alice", Password));
        await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("bob", Password));
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < OperatorPasswordPolicy.MaxFailedAttempts; i++)
        {
            // The last of these is the failure that locks bob's account.
            answers.Add(await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("bob", "wrong password!")));
        }

        answers.Add(await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("carol", Password)));
        answers.Add(await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", "wrong password!")));
        answers.Add(await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("bob", Password)));
        answers.Add(await client.PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("bob", "wrong password!")));

        var first = await DescribeAsync(answers[0]);
        Assert.Contains("\"code\":\"invalid_credentials\"", first, StringComparison.Ordinal);
        foreach (var answer in answers)
        {
            Assert.Equal(first, await DescribeAsync(answer));
        }

        var locked = (await client.GetFromJsonAsync<Page<OperatorResponse>>("/v1/operators", PlatformJson.Options))!.Items.Single(o => o.UserName == "bob");
        Assert.NotNull(locked.LockedUntil);
    }

    [Fact]
    public async Task Create_ShortPasswordBadNameOrDuplicate_ReturnsFieldProblems()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();

        var invalid = await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("al ice", "short"));
        await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("alice", Password));
        var duplicate = await client.PostAsJsonAsync("/v1/operators", new CreateOperatorRequest("Alice", Password));

        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var body = await invalid.Content.ReadAsStringAsync();
        Assert.Contains("\"field\":\"userName\"", body, StringComparison.Ordinal);
        Assert.Contains("\"field\":\"password\"", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("operator_name_taken", await CodeOf(duplicate));
    }

    [Fact]
    public async Task OperatorsApi_TenantKeyOrAnonymous_IsRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var anonymous = await silo.AnonymousClient().PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", Password));
        var tenantKey = await silo.ClientWith("tk_" + new string('0', 32) + "_" + new string('a', 43))
            .PostAsJsonAsync("/v1/operators/verify", new VerifyOperatorRequest("alice", Password));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, tenantKey.StatusCode);
    }

    /// <summary>Status, content type and problem document of an answer, without its per-request trace id.</summary>
    private static async Task<string> DescribeAsync(HttpResponseMessage response)
    {
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        body.Remove("traceId");
        return $"{(int)response.StatusCode} {response.Content.Headers.ContentType} {body.ToJsonString()}";
    }

    private static async Task<string?> CodeOf(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("code").GetString();
    }
}
