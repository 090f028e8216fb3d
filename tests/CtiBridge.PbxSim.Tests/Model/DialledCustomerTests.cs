using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>How PbxSim draws the customers a dialer calls through a trunk.</summary>
public sealed class DialledCustomerTests
{
    [Fact]
    public void InvalidIsTheNumbers_ABusyNumberNeverComesBackInvalid_AnInvalidOneStaysInvalid()
    {
        // Half busy, half invalid: drawn per call, a number busy on its first call would come back
        // invalid on a retry half the time (the dialer test that saw an invalid lead dialled twice).
        var endpoints = new Endpoints([]) { Customers = new DialledCustomers { Busy = 0.5, NoAnswer = 0, Invalid = 0.5, Machine = 0 } };
        var invalidNumbers = 0;
        for (var n = 0; n < 200; n++)
        {
            var number = $"212555{n:D4}";
            var calls = Enumerable.Range(0, 5).Select(_ => endpoints.DrawCustomer(number).Behaviour).ToList();
            if (calls[0] == PhoneBehaviour.Unavailable)
            {
                invalidNumbers++;
                Assert.All(calls, c => Assert.Equal(PhoneBehaviour.Unavailable, c));
            }
            else
            {
                // It exists: busy or a person on every later call, in the configured proportions (here busy only).
                Assert.All(calls, c => Assert.Equal(PhoneBehaviour.Busy, c));
            }
        }

        // The first call still draws invalid numbers at the configured share (seeded: the same every run).
        Assert.InRange(invalidNumbers, 70, 130);
    }

    [Fact]
    public void NewCustomerSettings_ForgetWhichNumbersExist()
    {
        var endpoints = new Endpoints([]) { Customers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 1, Machine = 0 } };
        Assert.Equal(PhoneBehaviour.Unavailable, endpoints.DrawCustomer("2125550001").Behaviour);

        // A test that sets other customers starts from a clean network: the number answers now.
        endpoints.Customers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0 };
        Assert.Equal(PhoneBehaviour.Answer, endpoints.DrawCustomer("2125550001").Behaviour);
    }
}
