namespace Platform.Gateway.Silo;

/// <summary>The silo does not know this node (declared dead or never registered): register again.</summary>
internal sealed class GatewayUnknownException : Exception
{
    public GatewayUnknownException()
        : base("The silo does not know this gateway node.")
    {
    }
}
