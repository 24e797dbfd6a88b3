using Platform.Gateway.WebSockets;

namespace Platform.Gateway.Tests.WebSockets;

public sealed class PerMessageDeflateTests
{
    [Theory]
    [InlineData("permessage-deflate", "permessage-deflate")]
    // What browsers and Node's ws send: the bare client_max_window_bits only says the client supports it.
    [InlineData("permessage-deflate; client_max_window_bits", "permessage-deflate")]
    [InlineData("permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10")]
    [InlineData("permessage-deflate; server_max_window_bits=12; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=12; server_no_context_takeover")]
    [InlineData("permessage-deflate;client_no_context_takeover", "permessage-deflate; client_no_context_takeover")]
    [InlineData("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, permessage-deflate",
        "permessage-deflate")]
    [InlineData("PERMESSAGE-DEFLATE; server_max_window_bits=\"11\"", "permessage-deflate; server_max_window_bits=11")]
    public void AcceptableOffer_AnsweredWithEveryParameterItNamed(string offers, string expected)
    {
        Assert.True(PerMessageDeflate.TryNegotiate(offers, out var options, out var response));

        Assert.Equal(expected, response);
        Assert.NotNull(options);
    }

    [Fact]
    public void Parameters_BecomeTheRuntimeOptions()
    {
        PerMessageDeflate.TryNegotiate("permessage-deflate; server_max_window_bits=12; client_max_window_bits=11; server_no_context_takeover; client_no_context_takeover",
            out var options, out _);

        Assert.Equal((12, 11, false, false), (options!.ServerMaxWindowBits, options.ClientMaxWindowBits, options.ServerContextTakeover, options.ClientContextTakeover));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("x-webkit-deflate-frame")]
    [InlineData("permessage-deflate; server_max_window_bits=8")] // the runtime supports 9..15
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate; server_max_window_bits")]
    [InlineData("permessage-deflate; client_max_window_bits=abc")]
    [InlineData("permessage-deflate; server_no_context_takeover=1")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("permessage-deflate; unknown_parameter")]
    public void NoAcceptableOffer_RunsUncompressed(string? offers)
    {
        Assert.False(PerMessageDeflate.TryNegotiate(offers, out var options, out var response));

        Assert.Null(options);
        Assert.Null(response);
    }
}
