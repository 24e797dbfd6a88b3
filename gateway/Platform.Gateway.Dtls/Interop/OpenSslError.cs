using System.Text;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Reads and empties the thread's OpenSSL error queue.</summary>
internal static unsafe class OpenSslError
{
    /// <summary>Every OpenSSL operation starts from an empty queue so that a failure reports its own errors only.</summary>
    public static void Clear() => NativeMethods.ERR_clear_error();

    /// <summary>Drains the queue into one line: "what failed: error:...; error:...".</summary>
    public static string Drain(out ulong firstCode)
    {
        firstCode = 0;
        var text = new StringBuilder();
        var buffer = stackalloc byte[256];
        ulong code;
        var count = 0;
        while ((code = NativeMethods.ERR_get_error()) != 0)
        {
            if (firstCode == 0)
            {
                firstCode = code;
            }

            // The queue is bounded by OpenSSL (16 entries); the guard only protects against a misbehaving build.
            if (++count > 32)
            {
                continue;
            }

            NativeMethods.ERR_error_string_n(code, buffer, 256);
            if (text.Length > 0)
            {
                text.Append("; ");
            }

            text.Append(new string((sbyte*)buffer));
        }

        return text.ToString();
    }

    public static OpenSslException Exception(string operation)
    {
        var errors = Drain(out var code);
        return new OpenSslException(errors.Length == 0 ? operation + " failed" : operation + " failed: " + errors, code);
    }

    public static void ThrowIf(bool failed, string operation)
    {
        if (failed)
        {
            throw Exception(operation);
        }
    }

    public static T CheckHandle<T>(T handle, string operation)
        where T : System.Runtime.InteropServices.SafeHandle
    {
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw Exception(operation);
        }

        return handle;
    }
}
