using System.Reflection;

namespace CtiBridge.TestSupport;

/// <summary>
/// Where the repository and <c>../shared</c> (design docs, ARI description, recorded Asterisk
/// traffic) are, wherever the test assembly was built to. The build stamps the repository root into
/// every test assembly; <c>CTIBRIDGE_SHARED_DIR</c> overrides the shared folder.
/// </summary>
public static class RepositoryPaths
{
    /// <summary>The repository root (the folder holding <c>CtiBridge.sln</c>).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The read-only <c>shared</c> folder beside the repository.</summary>
    public static string Shared
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("CTIBRIDGE_SHARED_DIR") is { Length: > 0 } overridden
                ? overridden
                : Path.GetFullPath(Path.Combine(Root, "..", "shared"));
            return Directory.Exists(path)
                ? path
                : throw new DirectoryNotFoundException($"The shared folder was not found at {path}: clone the repository with ../shared beside it, or set CTIBRIDGE_SHARED_DIR.");
        }
    }

    /// <summary><c>shared/fixtures/asterisk</c>: real Asterisk 22 AMI and ARI traffic.</summary>
    public static string AsteriskFixtures => Path.Combine(Shared, "fixtures", "asterisk");

    /// <summary><c>shared/asterisk-api/ari</c>: Asterisk's ARI API description (Swagger 1.1).</summary>
    public static string AriApiDescription => Path.Combine(Shared, "asterisk-api", "ari");

    private static string FindRoot()
    {
        foreach (var assembly in new[] { Assembly.GetEntryAssembly(), typeof(RepositoryPaths).Assembly })
        {
            var stamped = assembly?.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "CtiBridge.RepositoryRoot")?.Value;
            if (stamped is not null && File.Exists(Path.Combine(stamped, "CtiBridge.sln")))
            {
                return stamped;
            }
        }

        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CtiBridge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException($"CtiBridge.sln was found neither where the build stamped it nor above {AppContext.BaseDirectory}.");
    }
}
