using CtiBridge.Service.AsteriskSetup;

namespace CtiBridge.Service.Tests.AsteriskSetup;

public sealed class AsteriskConfigFileTests
{
    [Fact]
    public void Parse_SectionsTemplatesAndObjectLines_KeepsAllOfThem()
    {
        var file = AsteriskConfigFile.Parse("""
            ; comment
            [agent](!)            ; a template
            context = agents
            allow = ulaw
            [1001](agent)
            allow = g722 ; own value
            [1001]
            type = aor
            [queues]
            exten => 1,1,Stasis(ctibridge,inbound,${EXTEN})
             same => n,Hangup()
            """, "test.conf");

        Assert.Equal(4, file.Sections.Count);
        Assert.True(file.Sections[0].IsTemplate);
        var endpoint = file.Sections[1];
        Assert.Equal(["agent"], endpoint.Templates);
        Assert.Equal("g722", file.Resolve(endpoint, "allow"));
        Assert.Equal("agents", file.Resolve(endpoint, "context"));
        Assert.Equal(2, file.Named("1001").Count());
        var queues = file.Named("queues").Single();
        Assert.Equal(["1,1,Stasis(ctibridge,inbound,${EXTEN})"], queues.All("exten"));
        Assert.True(queues.Entries[0].IsObjectLine);
        Assert.Equal(["n,Hangup()"], queues.All("same"));
    }

    [Fact]
    public void Parse_EscapedSemicolonAndBlockComment_AreHandledLikeAsterisk()
    {
        var file = AsteriskConfigFile.Parse("[a]\nx = one\\;two ; comment\n;-- block\ny = hidden\n--;\nz = 3\n", "t.conf");

        var section = file.Sections.Single();
        Assert.Equal("one;two", section["x"]);
        Assert.Null(section["y"]);
        Assert.Equal("3", section["z"]);
    }

    [Fact]
    public void Parse_Include_IsRecorded()
    {
        var file = AsteriskConfigFile.Parse("#include \"pjsip_phones.conf\"\n[a]\nk=v\n", "t.conf");

        Assert.Equal(["pjsip_phones.conf"], file.Includes);
    }

    [Theory]
    [InlineData("[a]\nnot a setting\n", "t.conf:2: expected 'key = value', found 'not a setting'")]
    [InlineData("k = v\n", "t.conf:1: 'k = v' comes before any [section]")]
    [InlineData("[a] extra\n", "t.conf:1: after [a] only (!) or (template,...) may follow")]
    [InlineData("[]\n", "t.conf:1: a section header must look like [name]")]
    [InlineData("#exclude x\n", "t.conf:1: unknown directive '#exclude'")]
    public void Parse_BadLine_NamesFileAndLine(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => AsteriskConfigFile.Parse(text, "t.conf"));

        Assert.Equal(expected, error.Message);
    }
}
