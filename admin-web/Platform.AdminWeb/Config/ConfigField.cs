namespace Platform.AdminWeb.Config;

/// <summary>How a config field is edited.</summary>
public enum ConfigFieldKind
{
    WholeNumber,
    Switch,
    Choice,
    Text,
    /// <summary>A JSON array of strings, edited one entry per line.</summary>
    Lines,
    /// <summary>A comma-separated string (the IPWorks access list format), edited one entry per line.</summary>
    CommaList,
    /// <summary>Free multi-line text, such as a PEM bundle.</summary>
    Multiline,
    /// <summary>Write-only: left empty, the stored value is kept.</summary>
    Secret,
}

/// <summary>One editable field of the tenant configuration: its JSON path, default and limits as shown to operators.</summary>
public sealed record ConfigField(
    string Path,
    string Section,
    string Label,
    ConfigFieldKind Kind,
    string Default,
    string Limits,
    IReadOnlyList<string>? Choices = null)
{
    /// <summary>Form field name; dots are kept so the silo's error paths map back one to one.</summary>
    public string FormName => "cfg." + Path;

    public string InputId => "cfg-" + Path.Replace('.', '-');
}
