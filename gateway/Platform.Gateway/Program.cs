using Platform.Gateway.Hosting;

var app = GatewayHost.Build(args);
await app.RunAsync();

/// <summary>Entry point (visible to hosts that start the gateway in-process).</summary>
public partial class Program;
