using System.Buffers;
using System.Text;
using Platform.Contracts.Config;

namespace Platform.Gateway.Tcp;

/// <summary>
/// Cuts a client byte stream into messages per the tenant's framing (the seeds' DataIn with EOL,
/// MaxLineLength, SingleLineMode, RecordLength). Lines keep their EOL bytes so that echo and forward
/// reproduce the stream exactly; a run longer than MaxLineLength without an EOL is delivered as a
/// partial line, and bytes left at end of stream are delivered as a final partial message.
/// </summary>
internal sealed class StreamFramer
{
    private readonly string _mode;
    private readonly byte[] _eol;
    private readonly int _maxLine;
    private readonly bool _singleLine;
    private readonly int _record;

    public StreamFramer(FramingConfig config)
    {
        _mode = config.Mode;
        _eol = Encoding.UTF8.GetBytes(config.Eol.Length == 0 ? "\n" : config.Eol);
        _maxLine = config.MaxLineLength;
        _singleLine = config.SingleLineMode;
        _record = config.RecordLength;
    }

    /// <summary>
    /// Takes the next message off the front of <paramref name="buffer"/>. With <paramref name="final"/>
    /// (end of stream) any remainder is a message.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, bool final, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.IsEmpty)
        {
            return false;
        }

        switch (_mode)
        {
            case FramingModes.Record when _record > 0:
                if (buffer.Length >= _record)
                {
                    return Take(ref buffer, _record, out message);
                }

                break;
            case FramingModes.Line:
                var end = _singleLine ? FindAnyLineEnd(buffer) : FindEol(buffer);
                if (end >= 0 && end <= _maxLine + _eol.Length)
                {
                    return Take(ref buffer, end, out message);
                }

                if (buffer.Length >= _maxLine)
                {
                    return Take(ref buffer, _maxLine, out message);
                }

                break;
            default:
                // No framing: whatever arrived is one message (one segment at a time keeps it copy-free).
                return Take(ref buffer, buffer.First.Length, out message);
        }

        return final && Take(ref buffer, buffer.Length, out message);
    }

    private static bool Take(ref ReadOnlySequence<byte> buffer, long length, out ReadOnlySequence<byte> message)
    {
        message = buffer.Slice(0, length);
        buffer = buffer.Slice(length);
        return true;
    }

    /// <summary>Length up to and including the first EOL, or -1.</summary>
    private long FindEol(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (reader.TryReadTo(out ReadOnlySequence<byte> line, _eol, advancePastDelimiter: true))
        {
            return line.Length + _eol.Length;
        }

        return -1;
    }

    /// <summary>SingleLineMode: CR, LF or CRLF ends a line. A CR as the last byte waits for a possible LF.</summary>
    private static long FindAnyLineEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryAdvanceToAny("\r\n"u8, advancePastDelimiter: false))
        {
            return -1;
        }

        var position = reader.Consumed;
        reader.TryRead(out var first);
        if (first == (byte)'\r')
        {
            if (!reader.TryPeek(out var next))
            {
                return -1;
            }

            return next == (byte)'\n' ? position + 2 : position + 1;
        }

        return position + 1;
    }
}
