using CtiBridge.Core.Acd;
using CtiBridge.Service.Cli;

namespace CtiBridge.Service.Tests.Cli;

public sealed class PinHashCommandTests
{
    [Fact]
    public void Run_DigitPin_PrintsAHashThatVerifiesAndNeverThePin()
    {
        var output = new StringWriter();

        var exit = PinHashCommand.Run(new StringReader("482913\n"), output, new StringWriter());

        var hash = output.ToString().Trim();
        Assert.Equal(0, exit);
        Assert.True(AgentPin.IsWellFormed(hash));
        Assert.True(AgentPin.Verify("482913", hash));
        Assert.DoesNotContain("482913", hash, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("97")]
    [InlineData("12ab")]
    [InlineData("1234567890123")]
    public void Run_NotADeskPhonePin_ExitsTwoWithoutEchoingIt(string pin)
    {
        var error = new StringWriter();

        var exit = PinHashCommand.Run(new StringReader(pin + "\n"), new StringWriter(), error);

        Assert.Equal(2, exit);
        Assert.Contains("4 to 12 digits", error.ToString(), StringComparison.Ordinal);
        if (pin.Length > 0)
        {
            Assert.DoesNotContain(pin, error.ToString(), StringComparison.Ordinal);
        }
    }
}
