namespace Platform.Gateway.WebSockets;

/// <summary>
/// How far the search for the end of a request head has got in a buffer that grows between reads, so that the next
/// search starts there instead of at the first byte again.
/// </summary>
internal struct HeadSearch
{
    /// <summary>Bytes from the buffer's start already searched for the blank line that ends the head.</summary>
    public long Searched { get; set; }

    /// <summary>Bytes looked at over every search so far, overlaps included: the work done, which stays linear.</summary>
    public long Examined { get; set; }
}
