using BenchmarkDotNet.Running;
using CtiBridge.Benchmarks.Ami;
using CtiBridge.Benchmarks.Ari;

namespace CtiBridge.Benchmarks;

/// <summary>
/// Runs the benchmarks chosen on the command line (e.g. --filter '*Ami*'); see docs/benchmarks.md.
/// A named class, not top-level statements: PbxSim (referenced here) has a top-level Program of its own.
/// The first argument <c>ami-server</c>/<c>ami-client</c> (or <c>ari-server</c>/<c>ari-client</c>)
/// runs the AMI loopback (ARI REST) benchmark with server and client in separate processes instead
/// (see <see cref="AmiLoopbackSeparate"/> and <see cref="AriRestSeparate"/>); <c>ami-parse</c> is
/// the quick in-process parse loop; <c>pbxsim-load</c> is one PbxSim load run (scripts/bench-pbxsim.sh).
/// </summary>
public static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "ami-server":
                return await AmiLoopbackSeparate.RunServerAsync(args[1..]);
            case "ari-server":
                return await AriRestSeparate.RunServerAsync();
            case "ari-client":
                return await AriRestSeparate.RunClientAsync(args[1..]);
            case "ami-parse":
                return AmiLoopbackSeparate.RunParse(args[1..]);
            case "ami-client":
                return await AmiLoopbackSeparate.RunClientAsync(args[1..]);
            case "pbxsim-load":
                return await PbxSim.PbxSimLoad.RunConsoleAsync(args[1..]);
            default:
                BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
                return 0;
        }
    }
}
