using Platform.Silo.HostNames;

namespace Platform.Silo.Tests.HostNames;

public sealed class PublicSuffixListTests
{
    // The copy the silo reads by default (Debian's publicsuffix package).
    private static readonly Lazy<PublicSuffixList> Debian = new(() => PublicSuffixList.Load(HostNameOptions.DefaultPublicSuffixListPath));

    [Theory]
    [InlineData("*.com", true)]
    [InlineData("*.co.uk", true)]
    [InlineData("*.github.io", true)]
    [InlineData("*.uk", true)]
    [InlineData("*.bd", true)]
    [InlineData("*.anything.bd", true)]
    [InlineData("*.www.ck", false)]
    [InlineData("*.foo.ck", true)]
    [InlineData("*.example", true)]
    [InlineData("*.bigcorp.com", false)]
    [InlineData("*.acme.co.uk", false)]
    [InlineData("*.acme.github.io", false)]
    [InlineData("*.xn--55qx5d.cn", true)]
    [InlineData("co.uk", false)]
    [InlineData("*.", false)]
    [InlineData("*..", false)]
    public void IsWildcardOverPublicSuffix_DebianList(string name, bool expected)
    {
        Assert.Equal(expected, Debian.Value.IsWildcardOverPublicSuffix(name));
    }

    [Theory]
    [InlineData("a.b.c.example.com", "com")]
    [InlineData("www.example.co.uk", "co.uk")]
    [InlineData("city.kawasaki.jp", "kawasaki.jp")]
    [InlineData("other.kawasaki.jp", "other.kawasaki.jp")]
    [InlineData("x.other.kawasaki.jp", "other.kawasaki.jp")]
    [InlineData("unlisted", "unlisted")]
    [InlineData("example.unlistedtld", "unlistedtld")]
    public void PublicSuffixOf_PlainWildcardExceptionAndDefaultRules(string domain, string expected)
    {
        Assert.Equal(expected, Debian.Value.PublicSuffixOf(domain));
    }

    [Fact]
    public void Parse_OwnList_RulesWildcardsExceptionsCommentsAndUnicode()
    {
        var list = PublicSuffixList.Parse([
            "// comment",
            "",
            "com",
            "co.uk   trailing words are ignored",
            "*.ck",
            "!www.ck",
            "公司.cn",
        ]);

        Assert.Equal(5, list.RuleCount);
        Assert.True(list.IsPublicSuffix("co.uk"));
        Assert.True(list.IsPublicSuffix("anything.ck"));
        Assert.False(list.IsPublicSuffix("www.ck"));
        Assert.Equal("ck", list.PublicSuffixOf("www.ck"));
        Assert.True(list.IsPublicSuffix("xn--55qx5d.cn"));
        Assert.Equal("co.uk", list.PublicSuffixOf("shop.example.co.uk"));
        Assert.True(list.IsWildcardOverPublicSuffix("*.comment"));
    }

    [Fact]
    public void Load_MissingFile_ThrowsNamingTheSettingAndThePackage()
    {
        var error = Assert.Throws<InvalidOperationException>(() => PublicSuffixList.Load("/nonexistent/list.dat"));

        Assert.Contains("Platform:PublicSuffixListPath", error.Message, StringComparison.Ordinal);
        Assert.Contains("publicsuffix", error.Message, StringComparison.Ordinal);
    }
}
