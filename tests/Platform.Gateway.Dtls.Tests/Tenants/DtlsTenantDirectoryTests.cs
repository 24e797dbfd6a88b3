using System.Net;
using System.Text;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Tenants;

public sealed class DtlsTenantDirectoryTests
{
    private static readonly TestTenants Pki = new();

    [Fact]
    public void Build_WithPrevious_TakesOverUnchangedTenantsAndRebuildsChangedOnes()
    {
        var alpha = Pki.Alpha();
        var previous = DtlsTenantDirectory.Build([alpha, Pki.Beta()]);
        var oldAlpha = previous.FindById("t-alpha")!;
        var oldBeta = previous.FindById("t-beta")!;

        using var next = DtlsTenantDirectory.Build([alpha, Pki.Beta()], previous: previous);
        previous.Dispose();

        Assert.Same(oldAlpha, next.FindById("t-alpha"));
        Assert.NotSame(oldBeta, next.FindById("t-beta"));
        Assert.False(next.FindById("t-alpha")!.Context(0)!.IsClosed);
        Assert.True(oldBeta.Context(0)!.IsClosed);
    }

    [Fact]
    public void Build_PreviousAlreadyDisposed_CompilesAgain()
    {
        var alpha = Pki.Alpha();
        var previous = DtlsTenantDirectory.Build([alpha]);
        var oldAlpha = previous.FindById("t-alpha")!;
        previous.Dispose();

        using var next = DtlsTenantDirectory.Build([alpha], previous: previous);

        Assert.NotSame(oldAlpha, next.FindById("t-alpha"));
        Assert.False(next.FindById("t-alpha")!.Context(0)!.IsClosed);
    }

    [Fact]
    public async Task Build_TakenOverTenant_StillServesHandshakesAfterThePreviousIsDisposed()
    {
        var alpha = Pki.Alpha();
        var previous = DtlsTenantDirectory.Build([alpha]);
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(previous, handler);

        using var next = DtlsTenantDirectory.Build([alpha], previous: previous);
        server.UpdateTenants(next).Dispose();
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        client.Send(Encoding.ASCII.GetBytes("after-handover"));

        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("t-alpha", session.Tenant!.TenantId);
        Assert.Equal(IPAddress.Loopback, session.RemoteEndPoint.Address);
    }
}
