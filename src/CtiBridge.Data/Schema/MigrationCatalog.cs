using System.Reflection;

namespace CtiBridge.Data.Schema;

/// <summary>
/// The ordered set of migrations the code knows. The product's own come from the <c>.sql</c> files
/// embedded in this assembly (<c>Migrations/NNNN_name.sql</c>); tests may build other catalogs.
/// </summary>
public sealed class MigrationCatalog
{
    private const string ResourcePrefix = "CtiBridge.Data.Migrations.";

    /// <summary>Creates a catalog, checking that versions are unique.</summary>
    /// <exception cref="MigrationException">Two migrations share a version number.</exception>
    public MigrationCatalog(IEnumerable<Migration> migrations)
    {
        ArgumentNullException.ThrowIfNull(migrations);
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Version == ordered[i - 1].Version)
            {
                throw new MigrationException($"Migrations '{ordered[i - 1].Name}' and '{ordered[i].Name}' share version {ordered[i].Version}; each number may be used once.");
            }
        }

        Migrations = ordered;
    }

    /// <summary>The migrations, lowest version first.</summary>
    public IReadOnlyList<Migration> Migrations { get; }

    /// <summary>The highest version the code knows (0 when there are none).</summary>
    public int LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>The product's migrations, embedded in <c>CtiBridge.Data</c>.</summary>
    public static MigrationCatalog Embedded { get; } = FromAssembly(typeof(MigrationCatalog).Assembly);

    /// <summary>Reads every embedded resource named <c>CtiBridge.Data.Migrations.*.sql</c>.</summary>
    public static MigrationCatalog FromAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new MigrationException($"Embedded migration '{resource}' could not be opened.");
            using var reader = new StreamReader(stream);
            migrations.Add(Migration.FromFile(resource[ResourcePrefix.Length..], reader.ReadToEnd()));
        }

        return new MigrationCatalog(migrations);
    }
}
