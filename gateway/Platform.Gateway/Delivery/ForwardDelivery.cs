using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Platform.Contracts.Config;
using Platform.Gateway.Egress;

namespace Platform.Gateway.Delivery;

/// <summary>
/// The WebSocketProxy delivery: one backend connection per client connection. Client messages become
/// backend stream bytes (raw, EOL-terminated lines, or 4-byte big-endian length prefixes); backend bytes
/// go back as messages. Both directions are bounded: the backend pipe pauses reading at
/// <see cref="PauseThreshold"/> bytes, and each direction awaits the other side before reading more.
/// </summary>
internal sealed class ForwardDelivery : IDelivery
{
    /// <summary>Most backend bytes buffered towards a slow client.</summary>
    public const int PauseThreshold = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly string _framing;
    private readonly byte[] _eol;
    private readonly bool _textToClient;

    private readonly int _maxReply;

    private ForwardDelivery(Socket socket, Stream stream, string framing, byte[] eol, bool textToClient, int maxReply)
    {
        _socket = socket;
        _stream = stream;
        _framing = framing;
        _eol = eol;
        _textToClient = textToClient;
        _maxReply = maxReply;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
    }

    public string Target { get; private init; } = "";

    /// <summary>The WebSocket sub-protocol a webhook's connect answer chose along with this target, or null.</summary>
    public string? SubProtocol { get; set; }

    /// <summary>The metadata a webhook's connect answer attached along with this target, or null.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; set; }

    public string? ForwardTarget => Target;

    /// <summary>
    /// Connects to the backend through <paramref name="egress"/> (which resolves and checks the host for
    /// <paramref name="tenant"/>), completes TLS for a <c>tls</c> backend (validated against the configured host), and
    /// writes <paramref name="proxyHeader"/> first when there is one. <paramref name="messageFraming"/> applies to message
    /// protocols (WebSocket, DTLS); stream clients pass <see cref="MessageFramings.Raw"/>. With a
    /// <paramref name="maxReply"/> (datagram clients), backend bytes go back in messages of at most that
    /// size, and length-prefixed backend frames go back one frame per message (a longer frame fails the backend).
    /// </summary>
    /// <summary><c>host:port</c> of a forward target, an IPv6 literal in brackets.</summary>
    public static string TargetOf(ForwardConfig config) =>
        config.Host.Contains(':', StringComparison.Ordinal) ? $"[{config.Host}]:{config.Port}" : $"{config.Host}:{config.Port}";

    public static async Task<ForwardDelivery> ConnectAsync(
        EgressConnector egress, string tenant, ForwardConfig config, byte[]? proxyHeader, string messageFraming, string eol, bool textToClient,
        CancellationToken cancellationToken, int? maxReply = null)
    {
        var target = TargetOf(config);
        Socket? socket = null;
        Stream? stream = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(config.ConnectTimeoutSeconds));
            try
            {
                socket = await egress.ConnectAsync(tenant, config.Host, config.Port, SocketType.Stream, timeout.Token);
                stream = new NetworkStream(socket, ownsSocket: false);
                if (config.Protocol == ForwardProtocols.Tls)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = ssl;
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = config.Host }, timeout.Token);
                }

                if (proxyHeader is not null)
                {
                    // After TLS, so that the header travels inside it like the client's bytes.
                    await stream.WriteAsync(proxyHeader, timeout.Token);
                    await stream.FlushAsync(timeout.Token);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new BackendUnreachableException(target, "connect timed out");
            }
            catch (SocketException ex)
            {
                throw new BackendUnreachableException(target, ex.SocketErrorCode.ToString(), ex);
            }
            catch (System.Security.Authentication.AuthenticationException ex)
            {
                throw new BackendUnreachableException(target, "TLS handshake failed", ex);
            }
            catch (IOException ex)
            {
                throw new BackendUnreachableException(target, ex.Message, ex);
            }

            var delivery = new ForwardDelivery(socket, stream, messageFraming, Encoding.UTF8.GetBytes(eol), textToClient, maxReply ?? 0) { Target = target };
            socket = null;
            stream = null;
            return delivery;
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }

            socket?.Dispose();
        }
    }

    public async ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken)
    {
        switch (_framing)
        {
            case MessageFramings.LengthPrefix:
                BinaryPrimitives.WriteInt32BigEndian(_writer.GetSpan(4), message.Length);
                _writer.Advance(4);
                _writer.Write(message.Span);
                break;
            case MessageFramings.LengthPrefix16:
                if (message.Length > ushort.MaxValue)
                {
                    throw new IOException("The message is longer than a 2-byte length prefix can carry.");
                }

                BinaryPrimitives.WriteUInt16BigEndian(_writer.GetSpan(2), (ushort)message.Length);
                _writer.Advance(2);
                _writer.Write(message.Span);
                break;
            case MessageFramings.Line:
                _writer.Write(message.Span);
                _writer.Write(_eol);
                break;
            default:
                _writer.Write(message.Span);
                break;
        }

        // Flushing waits for the backend socket to take the bytes: a slow backend pauses the client reader.
        var result = await _writer.FlushAsync(cancellationToken);
        if (result.IsCompleted)
        {
            throw new IOException("The backend connection is closed.");
        }
    }

    public async Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
    {
        if (_maxReply > 0)
        {
            return await RunMessagesAsync(client, cancellationToken);
        }

        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                var consumed = buffer.End;
                if (!buffer.IsEmpty)
                {
                    var toSend = buffer;
                    if (_textToClient)
                    {
                        // A text message must be whole UTF-8: hold back an incomplete trailing sequence.
                        var keep = IncompleteUtf8Tail(buffer);
                        toSend = buffer.Slice(0, buffer.Length - keep);
                        consumed = toSend.End;
                    }

                    if (!toSend.IsEmpty)
                    {
                        await SendAsync(client, toSend, cancellationToken);
                    }
                }

                _reader.AdvanceTo(consumed, buffer.End);
                if (result.IsCompleted)
                {
                    return DeliveryEnd.DestinationClosed;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return DeliveryEnd.Cancelled;
        }
        catch (IOException)
        {
            return DeliveryEnd.DestinationFailed;
        }
        catch (SocketException)
        {
            return DeliveryEnd.DestinationFailed;
        }
    }

    /// <summary>Backend bytes to a datagram client: one message per length-prefixed frame, or raw chunks of at most the largest message.</summary>
    private async Task<DeliveryEnd> RunMessagesAsync(IClientSink client, CancellationToken cancellationToken)
    {
        var prefix = _framing switch
        {
            MessageFramings.LengthPrefix => 4,
            MessageFramings.LengthPrefix16 => 2,
            _ => 0,
        };
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                while (TryTakeReply(ref buffer, prefix, out var message))
                {
                    await SendWholeAsync(client, message, cancellationToken);
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return buffer.IsEmpty ? DeliveryEnd.DestinationClosed : DeliveryEnd.DestinationFailed;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return DeliveryEnd.Cancelled;
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            return DeliveryEnd.DestinationFailed;
        }
    }

    private static async ValueTask SendWholeAsync(IClientSink client, ReadOnlySequence<byte> message, CancellationToken cancellationToken)
    {
        if (message.IsSingleSegment)
        {
            await client.SendAsync(message.First, text: false, cancellationToken);
            return;
        }

        var length = (int)message.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(rented);
            await client.SendAsync(rented.AsMemory(0, length), text: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private bool TryTakeReply(ref ReadOnlySequence<byte> buffer, int prefix, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (prefix == 0)
        {
            if (buffer.IsEmpty)
            {
                return false;
            }

            message = buffer.Slice(0, Math.Min(buffer.Length, _maxReply));
            buffer = buffer.Slice(message.End);
            return true;
        }

        if (buffer.Length < prefix)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[4];
        buffer.Slice(0, prefix).CopyTo(header);
        long length = prefix == 2 ? BinaryPrimitives.ReadUInt16BigEndian(header) : BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > _maxReply)
        {
            // The buffer stays bounded: a frame the client could never take ends the backend connection.
            throw new InvalidDataException($"A backend frame of {length} bytes exceeds the largest client message ({_maxReply}).");
        }

        if (buffer.Length < prefix + length)
        {
            return false;
        }

        message = buffer.Slice(prefix, length);
        buffer = buffer.Slice(prefix + length);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        await _writer.CompleteAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer; closing below is all that is left.
        }
        catch (ObjectDisposedException)
        {
            // Closed by a failed read.
        }

        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private async ValueTask SendAsync(IClientSink client, ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        if (data.IsSingleSegment)
        {
            await client.SendAsync(data.First, _textToClient, cancellationToken);
            return;
        }

        if (!_textToClient)
        {
            foreach (var segment in data)
            {
                await client.SendAsync(segment, text: false, cancellationToken);
            }

            return;
        }

        var length = checked((int)data.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            data.CopyTo(rented);
            await client.SendAsync(rented.AsMemory(0, length), text: true, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Bytes at the end of <paramref name="buffer"/> that start a UTF-8 sequence not yet complete (0..3).</summary>
    internal static int IncompleteUtf8Tail(ReadOnlySequence<byte> buffer)
    {
        var take = (int)Math.Min(4, buffer.Length);
        Span<byte> tail = stackalloc byte[4];
        buffer.Slice(buffer.Length - take).CopyTo(tail);
        tail = tail[..take];
        for (var i = 1; i <= take; i++)
        {
            var b = tail[take - i];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > i ? i : 0;
        }

        return 0;
    }
}
