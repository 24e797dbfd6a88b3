namespace Platform.Contracts.Config;

/// <summary>
/// How a TCP or TLS byte stream from a client is cut into messages before delivery
/// (DataIn with EOL, MaxLineLength, SingleLineMode and RecordLength in the seeds).
/// </summary>
public sealed record FramingConfig
{
    /// <summary>Default for <see cref="MaxLineLength"/>.</summary>
    public const int DefaultMaxLineLength = 2048;
    /// <summary>Smallest allowed <see cref="MaxLineLength"/>.</summary>
    public const int MinMaxLineLength = 256;

    /// <summary><c>none</c> (bytes as they arrive, the default), <c>line</c> or <c>record</c>.</summary>
    public string Mode { get; init; } = FramingModes.None;

    /// <summary>End-of-line string for <c>line</c> mode (1..16 characters).</summary>
    public string Eol { get; init; } = "\n";

    /// <summary>Longest line buffered while waiting for EOL; a longer run is delivered as a partial line. 256..1048576.</summary>
    public int MaxLineLength { get; init; } = DefaultMaxLineLength;

    /// <summary>In <c>line</c> mode, treat any of CR, LF or CRLF as the end of a line.</summary>
    public bool SingleLineMode { get; init; }

    /// <summary>Fixed record size for <c>record</c> mode, 1..1048576.</summary>
    public int RecordLength { get; init; }
}

/// <summary>Values of <see cref="FramingConfig.Mode"/>.</summary>
public static class FramingModes
{
    /// <summary>Deliver bytes as they arrive.</summary>
    public const string None = "none";
    /// <summary>Deliver complete lines.</summary>
    public const string Line = "line";
    /// <summary>Deliver fixed-length records.</summary>
    public const string Record = "record";
}
