using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Platform.Contracts.Connections;

/// <summary>
/// Connection ids have the form <c>{gatewayNodeId}.{sequence}</c> where the sequence is lower-case hex.
/// The node id part routes a command to the owning gateway without a lookup.
/// Gateway node ids are 1..40 characters of lower-case letters, digits and '-'.
/// </summary>
public static class ConnectionId
{
    /// <summary>Longest gateway node id.</summary>
    public const int MaxNodeIdLength = 40;

    /// <summary>Builds the id of the <paramref name="sequence"/>-th connection of a node.</summary>
    public static string Format(string nodeId, ulong sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{nodeId}.{sequence:x}");

    /// <summary>Whether <paramref name="nodeId"/> is a valid gateway node id.</summary>
    public static bool IsValidNodeId([NotNullWhen(true)] string? nodeId) =>
        !string.IsNullOrEmpty(nodeId) && nodeId.Length <= MaxNodeIdLength
        && nodeId.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>Splits a connection id into its node id and sequence.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out string? nodeId, out ulong sequence)
    {
        nodeId = null;
        sequence = 0;
        if (string.IsNullOrEmpty(value) || value.Length > MaxNodeIdLength + 17)
        {
            return false;
        }

        var dot = value.LastIndexOf('.');
        if (dot <= 0 || dot == value.Length - 1)
        {
            return false;
        }

        var node = value[..dot];
        var seq = value.AsSpan(dot + 1);
        if (!IsValidNodeId(node) || seq.Length > 16 || !seq.ToString().All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f')
            || !ulong.TryParse(seq, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out sequence))
        {
            return false;
        }

        nodeId = node;
        return true;
    }
}
