using System.Security.Cryptography;
using System.Text;
using Platform.Contracts.Connections;

namespace Platform.Gateway.Hosting;

/// <summary>Identity of this gateway process and the sequence its connection ids are drawn from.</summary>
internal sealed class GatewayNode
{
    private long _sequence;

    public GatewayNode(string nodeName)
    {
        NodeId = CreateNodeId(nodeName);
    }

    public string NodeId { get; }

    /// <summary>A fresh connection id; ids of one process never repeat.</summary>
    public string NextConnectionId() => ConnectionId.Format(NodeId, (ulong)Interlocked.Increment(ref _sequence));

    /// <summary>
    /// Builds <c>{name}-{8 hex}</c>: the random part makes a restarted process a new node, so
    /// connection ids of a dead process are never routed to its successor.
    /// </summary>
    public static string CreateNodeId(string? nodeName)
    {
        var builder = new StringBuilder();
        foreach (var c in (nodeName ?? "").ToLowerInvariant())
        {
            if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            {
                builder.Append(c);
            }
        }

        var prefix = builder.Length == 0 ? "gw" : builder.ToString();
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        if (prefix.Length > ConnectionId.MaxNodeIdLength - suffix.Length - 1)
        {
            prefix = prefix[..(ConnectionId.MaxNodeIdLength - suffix.Length - 1)];
        }

        var id = $"{prefix}-{suffix}";
        return ConnectionId.IsValidNodeId(id) ? id : throw new InvalidOperationException($"Node id '{id}' is not valid.");
    }
}
