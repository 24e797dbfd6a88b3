using System.Buffers;
using System.Text;
using Platform.Contracts.Config;
using Platform.Gateway.Tcp;

namespace Platform.Gateway.Tests.Tcp;

public sealed class StreamFramerTests
{
    private static List<string> Frame(FramingConfig config, bool final, params string[] chunks)
    {
        var framer = new StreamFramer(config);
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(string.Concat(chunks)));
        var messages = new List<string>();
        while (framer.TryRead(ref buffer, final, out var message))
        {
            messages.Add(Encoding.UTF8.GetString(message.ToArray()));
        }

        return messages;
    }

    [Fact]
    public void TryRead_LineMode_SplitsAtEolAndKeepsRemainder()
    {
        var config = new FramingConfig { Mode = FramingModes.Line, Eol = "\r\n" };
        Assert.Equal(["a\r\n", "bc\r\n"], Frame(config, false, "a\r\nbc\r\nde"));
        Assert.Equal(["a\r\n", "bc\r\n", "de"], Frame(config, true, "a\r\nbc\r\nde"));
    }

    [Fact]
    public void TryRead_LineLongerThanMax_DeliveredAsPartialLines()
    {
        var config = new FramingConfig { Mode = FramingModes.Line, MaxLineLength = 256 };
        var messages = Frame(config, false, new string('x', 600), "\n");
        Assert.Equal([256, 256, 89], messages.Select(m => m.Length));
    }

    [Fact]
    public void TryRead_SingleLineMode_AcceptsCrLfAndCrlf()
    {
        var config = new FramingConfig { Mode = FramingModes.Line, SingleLineMode = true };
        Assert.Equal(["a\n", "b\r", "c\r\n"], Frame(config, false, "a\nb\rc\r\nd"));
    }

    [Fact]
    public void TryRead_SingleLineModeTrailingCr_WaitsForPossibleLf()
    {
        var config = new FramingConfig { Mode = FramingModes.Line, SingleLineMode = true };
        Assert.Empty(Frame(config, false, "abc\r"));
    }

    [Fact]
    public void TryRead_RecordMode_FixedSizes()
    {
        var config = new FramingConfig { Mode = FramingModes.Record, RecordLength = 3 };
        Assert.Equal(["abc", "def"], Frame(config, false, "abcdefg"));
    }

    [Fact]
    public void TryRead_NoFraming_EverythingIsOneMessage()
    {
        Assert.Equal(["hello world"], Frame(new FramingConfig(), false, "hello world"));
    }
}
