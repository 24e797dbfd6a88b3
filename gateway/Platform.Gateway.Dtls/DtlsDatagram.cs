using System.Buffers;

namespace Platform.Gateway.Dtls;

/// <summary>
/// One decrypted application datagram in a buffer rented from <see cref="ArrayPool{T}.Shared"/>, decrypted straight
/// into it (no copy after the receive buffer). Ownership moves with the value: whoever holds it last calls
/// <see cref="Return"/> exactly once and does not touch <see cref="Memory"/> after that. A handler that only needs the
/// bytes during its call may read them and return at once.
/// </summary>
public readonly struct DtlsDatagram
{
    private readonly byte[]? _buffer;

    internal DtlsDatagram(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The datagram's length in bytes.</summary>
    public int Length { get; }

    /// <summary>The datagram's bytes, valid until <see cref="Return"/>.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, Length);

    /// <summary>The datagram's bytes, valid until <see cref="Return"/>.</summary>
    public ReadOnlySpan<byte> Span => _buffer is null ? [] : _buffer.AsSpan(0, Length);

    /// <summary>A pooled copy of <paramref name="data"/>, for an engine that decrypts into a buffer of its own.</summary>
    public static DtlsDatagram CopyOf(ReadOnlySpan<byte> data)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Length));
        data.CopyTo(buffer);
        return new DtlsDatagram(buffer, data.Length);
    }

    /// <summary>Gives the buffer back to the pool.</summary>
    public void Return()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
