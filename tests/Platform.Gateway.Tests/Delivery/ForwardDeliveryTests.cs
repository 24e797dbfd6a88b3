using System.Buffers;
using System.Text;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Tests.Delivery;

public sealed class ForwardDeliveryTests
{
    [Theory]
    [InlineData("abc", 0)]
    [InlineData("aé", 0)]
    [InlineData("a€", 0)]
    public void IncompleteUtf8Tail_CompleteText_Zero(string text, int expected)
    {
        Assert.Equal(expected, ForwardDelivery.IncompleteUtf8Tail(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void IncompleteUtf8Tail_CutFourByteSequence_HoldsBackTheCut(int cut)
    {
        var bytes = Encoding.UTF8.GetBytes("x😀");
        var partial = bytes.AsSpan(0, 1 + cut).ToArray();
        Assert.Equal(cut, ForwardDelivery.IncompleteUtf8Tail(new ReadOnlySequence<byte>(partial)));
    }
}
