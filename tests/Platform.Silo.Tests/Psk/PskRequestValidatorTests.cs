using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Silo.Psk;

namespace Platform.Silo.Tests.Psk;

public sealed class PskRequestValidatorTests
{
    private const string Key16 = "000102030405060708090a0b0c0d0e0f";

    [Theory]
    [InlineData("device-1")]
    [InlineData("A.b_C-9")]
    [InlineData("x")]
    public void Validate_GoodIdentityAndKey_ReturnsDecodedKey(string identity)
    {
        var errors = PskRequestValidator.Validate(new CreatePskIdentityRequest(identity, Key16), out var key);

        Assert.Empty(errors);
        Assert.Equal(Convert.FromHexString(Key16), key);
    }

    [Fact]
    public void Validate_LongestIdentityAndKey_Accepts()
    {
        var errors = PskRequestValidator.Validate(new CreatePskIdentityRequest(new string('a', 64), new string('F', 128)), out var key);

        Assert.Empty(errors);
        Assert.Equal(64, key!.Length);
    }

    [Theory]
    [InlineData("", FieldErrorCodes.Required)]
    [InlineData(null, FieldErrorCodes.Required)]
    [InlineData("slug/device", FieldErrorCodes.InvalidFormat)]
    [InlineData("with space", FieldErrorCodes.InvalidFormat)]
    [InlineData("ünicode", FieldErrorCodes.InvalidFormat)]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FieldErrorCodes.TooLong)]
    public void Validate_BadIdentity_NamesIdentity(string? identity, string code)
    {
        var errors = PskRequestValidator.Validate(new CreatePskIdentityRequest(identity!, Key16), out var key);

        var error = Assert.Single(errors);
        Assert.Equal("identity", error.Field);
        Assert.Equal(code, error.Code);
        Assert.Null(key);
    }

    [Theory]
    [InlineData("", FieldErrorCodes.Required)]
    [InlineData(null, FieldErrorCodes.Required)]
    [InlineData("000102030405060708090a0b0c0d0e0", FieldErrorCodes.InvalidFormat)]
    [InlineData("zz0102030405060708090a0b0c0d0e0f", FieldErrorCodes.InvalidFormat)]
    [InlineData("0x0102030405060708090a0b0c0d0e0f", FieldErrorCodes.InvalidFormat)]
    [InlineData("000102030405060708090a0b0c0d0e", FieldErrorCodes.OutOfRange)]
    [InlineData("00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ab", FieldErrorCodes.OutOfRange)]
    public void Validate_BadKey_NamesKeyWithoutEchoingIt(string? hex, string code)
    {
        var errors = PskRequestValidator.Validate(new CreatePskIdentityRequest("device", hex!), out var key);

        var error = Assert.Single(errors);
        Assert.Equal("key", error.Field);
        Assert.Equal(code, error.Code);
        Assert.Null(key);
        if (!string.IsNullOrEmpty(hex))
        {
            Assert.DoesNotContain(hex, error.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Validate_BothBad_ReportsBoth()
    {
        var errors = PskRequestValidator.Validate(new CreatePskIdentityRequest("a b", "abc"), out var key);

        Assert.Equal(["identity", "key"], errors.Select(e => e.Field).ToArray());
        Assert.Null(key);
    }
}
