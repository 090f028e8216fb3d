using BenchmarkDotNet.Running;

namespace CtiBridge.Benchmarks;

/// <summary>
/// Runs the benchmarks chosen on the command line (e.g. --filter '*Ami*'); see docs/benchmarks.md.
/// A named class, not top-level statements: PbxSim (referenced here) has a top-level Program of its own.
/// </summary>
public static class BenchmarkProgram
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
