using Platform.Contracts.Config;

namespace Platform.Gateway.Tenants;

/// <summary>The listener kinds (<see cref="ListenerProtocols"/>) a tenant accepts, as flags for the accept path.</summary>
[Flags]
internal enum ListenerKinds
{
    None = 0,
    Ws = 1,
    Wss = 2,
    Tls = 4,
    Tcp = 8,
    Dtls = 16,
}
