using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Asterisk.Tests.Ari;

public sealed class AriClientOptionsTests
{
    private static readonly AriClientOptions Valid = new() { UserName = "ctibridge", Password = "ctibridge-secret" };

    [Fact]
    public void Defaults_WithCredentials_AreValidAndDocumentedValues()
    {
        Assert.Empty(Valid.Validate());
        Assert.Equal(new Uri("http://127.0.0.1:8088/ari"), Valid.BaseAddress);
        Assert.Equal(["ctibridge"], Valid.Applications);
        Assert.False(Valid.SubscribeAll);
        Assert.Equal(TimeSpan.FromSeconds(10), Valid.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), Valid.PingInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), Valid.ReconnectDelayMin);
        Assert.Equal(TimeSpan.FromSeconds(30), Valid.ReconnectDelayMax);
        Assert.Equal(0.2, Valid.ReconnectJitter);
        Assert.Equal(32, Valid.MaxConnections);
    }

    [Fact]
    public void Validate_EverythingWrong_ListsEveryProblemWithItsSetting()
    {
        var options = new AriClientOptions
        {
            BaseAddress = new Uri("ftp://pbx/ari"),
            Applications = ["ctibridge,dialer"],
            RequestTimeout = TimeSpan.Zero,
            ReconnectDelayMin = TimeSpan.FromSeconds(10),
            ReconnectDelayMax = TimeSpan.FromSeconds(1),
            ReconnectJitter = 1.5,
            MaxConnections = 0,
        };

        var problems = options.Validate();

        Assert.Contains(problems, p => p.Contains("BaseAddress", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("UserName is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Password is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("without commas", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("RequestTimeout must be positive", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ReconnectDelayMax", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ReconnectJitter", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("MaxConnections", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.StartsWith("Asterisk:Ari:", p, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_CredentialsInUrl_IsRefused()
    {
        var problems = (Valid with { BaseAddress = new Uri("http://ctibridge:secret@127.0.0.1:8088/ari") }).Validate();
        Assert.Contains(problems, p => p.Contains("must not carry credentials", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithAllProblems()
    {
        var error = Assert.Throws<ArgumentException>(() => new AriClient(new AriClientOptions()));
        Assert.Contains("UserName", error.Message, StringComparison.Ordinal);
        Assert.Contains("Password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_NeverShowsThePassword()
    {
        var text = Valid.ToString();
        Assert.DoesNotContain("ctibridge-secret", text, StringComparison.Ordinal);
        Assert.Contains("Password = ***", text, StringComparison.Ordinal);
        Assert.Contains("UserName = ctibridge", text, StringComparison.Ordinal);
    }
}
