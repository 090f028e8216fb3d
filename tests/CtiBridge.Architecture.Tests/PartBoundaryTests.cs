using System.Reflection;
using System.Xml.Linq;
using CtiBridge.TestSupport;

namespace CtiBridge.Architecture.Tests;

/// <summary>
/// DESIGN.md's boundaries, checked twice: in the project files (what a developer edits) and in the
/// compiled assemblies (what actually got linked, including anything pulled in transitively).
/// </summary>
public sealed class PartBoundaryTests
{
    /// <summary>For each part, the parts of ours it must never depend on, directly or transitively.</summary>
    public static TheoryData<string, string[]> ForbiddenReferences => new()
    {
        { "CtiBridge.Core", ["CtiBridge.Asterisk", "CtiBridge.Data", "CtiBridge.Service", "CtiBridge.PbxSim"] },
        { "CtiBridge.Asterisk", ["CtiBridge.Core", "CtiBridge.Data", "CtiBridge.Service", "CtiBridge.PbxSim"] },
        { "CtiBridge.PbxSim", ["CtiBridge.Core", "CtiBridge.Data", "CtiBridge.Service"] },
        { "CtiBridge.Data", ["CtiBridge.Asterisk", "CtiBridge.Service", "CtiBridge.PbxSim"] },
        { "CtiBridge.Service", ["CtiBridge.PbxSim"] },
    };

    [Theory]
    [MemberData(nameof(ForbiddenReferences))]
    public void ProjectFile_ReferencesOnlyAllowedParts(string part, string[] forbidden)
    {
        var reachable = ReachableProjects(part);

        var violations = reachable.Intersect(forbidden).ToList();
        Assert.True(violations.Count == 0, $"{part} must not reference {string.Join(", ", violations)} (DESIGN.md part boundaries); it reaches: {string.Join(", ", reachable)}");
    }

    [Theory]
    [MemberData(nameof(ForbiddenReferences))]
    public void CompiledAssembly_ReferencesOnlyAllowedParts(string part, string[] forbidden)
    {
        var assembly = Assembly.Load(AssemblyNameOf(part));

        var referenced = assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        var violations = referenced.Select(PartOfAssembly).Where(p => p is not null && forbidden.Contains(p)).ToList();
        Assert.True(violations.Count == 0, $"{part}'s assembly references {string.Join(", ", violations)}, which DESIGN.md forbids.");
    }

    [Fact]
    public void ReachableProjects_FindsTransitiveReference()
    {
        // Guards the checker itself: Service reaches Core through Data as well as directly.
        var reachable = ReachableProjects("CtiBridge.Service");

        Assert.Contains("CtiBridge.Core", reachable);
        Assert.Contains("CtiBridge.Data", reachable);
        Assert.Contains("CtiBridge.Asterisk", reachable);
    }

    [Fact]
    public void EverySourceProject_IsCoveredByTheBoundaryRules()
    {
        var parts = Directory.GetDirectories(Path.Combine(RepositoryRoot, "src")).Select(Path.GetFileName).ToHashSet();
        var ruled = ForbiddenReferences.Select(row => (string)row.Data.Item1).ToHashSet();

        Assert.Equal(parts.Order(), ruled.Order());
    }

    [Fact]
    public void EverySourceProject_HasATestProjectMirroringIt()
    {
        var parts = Directory.GetDirectories(Path.Combine(RepositoryRoot, "src")).Select(Path.GetFileName);

        var missing = parts.Where(p => !File.Exists(Path.Combine(RepositoryRoot, "tests", p + ".Tests", p + ".Tests.csproj"))).ToList();

        Assert.True(missing.Count == 0, $"No tests/<part>.Tests project for: {string.Join(", ", missing)}");
    }

    private static string AssemblyNameOf(string part) => part switch
    {
        "CtiBridge.Service" => "ctibridge",
        _ => XDocument.Load(ProjectFile(part)).Descendants("AssemblyName").FirstOrDefault()?.Value ?? part,
    };

    private static string? PartOfAssembly(string assemblyName) =>
        Directory.GetDirectories(Path.Combine(RepositoryRoot, "src")).Select(Path.GetFileName)
            .FirstOrDefault(p => string.Equals(AssemblyNameOf(p!), assemblyName, StringComparison.Ordinal));

    private static List<string> ReachableProjects(string part)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([part]);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            foreach (var reference in DirectProjectReferences(current))
            {
                if (seen.Add(reference))
                {
                    stack.Push(reference);
                }
            }
        }

        return [.. seen];
    }

    private static IEnumerable<string> DirectProjectReferences(string part) =>
        XDocument.Load(ProjectFile(part)).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')));

    private static string ProjectFile(string part) => Path.Combine(RepositoryRoot, "src", part, part + ".csproj");

    private static string RepositoryRoot => RepositoryPaths.Root;
}
