using System.CommandLine;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.Cli;

/// <summary>
/// <c>ctibridge pin-hash</c>: turns an agent's PIN, read from standard input (never the command
/// line, where <c>ps</c> and shell history would keep it), into the <c>pinHash</c> value of
/// ctibridge.json.
/// </summary>
public static class PinHashCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var command = new Command("pin-hash", "Read an agent PIN (4 to 12 digits) from standard input and print its pinHash for ctibridge.json.");
        command.SetAction(parse => Run(Console.In, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    internal static int Run(TextReader input, TextWriter output, TextWriter error)
    {
        var pin = input.ReadLine()?.Trim();
        if (string.IsNullOrEmpty(pin) || pin.Length is < 4 or > 12 || !pin.All(char.IsAsciiDigit))
        {
            // Desk phones enter PINs with the keypad, so only digits are useful; the PIN is not echoed.
            error.WriteLine("pin-hash: expected one line with a PIN of 4 to 12 digits on standard input, e.g.  read -s PIN; echo \"$PIN\" | ctibridge pin-hash");
            return 2;
        }

        output.WriteLine(AgentPin.Hash(pin));
        return 0;
    }
}
