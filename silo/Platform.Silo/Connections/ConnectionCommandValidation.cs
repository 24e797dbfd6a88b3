using System.Buffers.Text;
using System.Text;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;

namespace Platform.Silo.Connections;

/// <summary>Validation of connection commands before they travel to a gateway.</summary>
internal static class ConnectionCommandValidation
{
    public const int MaxMessageBytes = 1024 * 1024;
    public const int MaxCloseReasonBytes = 123;

    public static List<FieldError> Validate(SendMessageRequest request)
    {
        var errors = new List<FieldError>();
        if ((request.Text is null) == (request.Binary is null))
        {
            errors.Add(new("text", FieldErrorCodes.Inconsistent, "Exactly one of 'text' or 'binary' is required."));
            return errors;
        }

        if (request.Text is { } text && Encoding.UTF8.GetByteCount(text) > MaxMessageBytes)
        {
            errors.Add(new("text", FieldErrorCodes.TooLong, $"A message is at most {MaxMessageBytes} bytes."));
        }

        if (request.Binary is { } binary)
        {
            if (!Base64.IsValid(binary, out var decodedLength))
            {
                errors.Add(new("binary", FieldErrorCodes.InvalidFormat, "Must be standard base64."));
            }
            else if (decodedLength > MaxMessageBytes)
            {
                errors.Add(new("binary", FieldErrorCodes.TooLong, $"A message is at most {MaxMessageBytes} bytes."));
            }
        }

        return errors;
    }

    public static List<FieldError> Validate(DisconnectRequest request)
    {
        var errors = new List<FieldError>();
        if (request.Code != 1000 && request.Code is < 3000 or > 4999)
        {
            errors.Add(new("code", FieldErrorCodes.OutOfRange, "A close code is 1000 or between 3000 and 4999."));
        }

        if (request.Reason is { } reason && Encoding.UTF8.GetByteCount(reason) > MaxCloseReasonBytes)
        {
            errors.Add(new("reason", FieldErrorCodes.TooLong, $"A close reason is at most {MaxCloseReasonBytes} bytes of UTF-8."));
        }

        return errors;
    }
}
