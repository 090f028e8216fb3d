using System.Reflection;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>Finds <c>../shared/fixtures/asterisk</c> from the repository root the build stamps into this assembly.</summary>
internal static class FixturePaths
{
    public static string Root { get; } = FindRoot();

    public static string AsteriskFixtures
    {
        get
        {
            var shared = Environment.GetEnvironmentVariable("CTIBRIDGE_SHARED_DIR") is { Length: > 0 } overridden
                ? overridden
                : Path.GetFullPath(Path.Combine(Root, "..", "shared"));
            var path = Path.Combine(shared, "fixtures", "asterisk");
            return Directory.Exists(path)
                ? path
                : throw new DirectoryNotFoundException($"Recorded Asterisk traffic not found at {path}: keep ../shared beside the repository or set CTIBRIDGE_SHARED_DIR.");
        }
    }

    private static string FindRoot()
    {
        var stamped = typeof(FixturePaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "CtiBridge.RepositoryRoot")?.Value;
        if (stamped is not null && File.Exists(Path.Combine(stamped, "CtiBridge.sln")))
        {
            return stamped;
        }

        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CtiBridge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("Repository root (CtiBridge.sln) not found above " + AppContext.BaseDirectory);
    }
}
