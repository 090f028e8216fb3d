using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.Data.Schema;

/// <summary>
/// One numbered schema migration: the SQL of a file named <c>NNNN_name.sql</c>.
/// </summary>
/// <param name="Version">The number before the first underscore (<c>0001</c> is version 1).</param>
/// <param name="Name">The file name without its extension, e.g. <c>0001_settings</c>.</param>
/// <param name="Sql">The SQL to run.</param>
/// <param name="Checksum">SHA-256 (hex) of the SQL with line endings normalised to LF, so a checkout
/// with CRLF line endings does not look like a tampered file.</param>
/// <param name="RunInTransaction">False when the file starts with <c>-- ctibridge:no-transaction</c>
/// (needed for statements such as <c>CREATE INDEX CONCURRENTLY</c>).</param>
public sealed record Migration(int Version, string Name, string Sql, string Checksum, bool RunInTransaction)
{
    /// <summary>The marker that makes a migration run outside a transaction.</summary>
    public const string NoTransactionMarker = "-- ctibridge:no-transaction";

    /// <summary>Builds a migration from a file name and its text, computing the checksum.</summary>
    /// <exception cref="MigrationException">The name is not <c>NNNN_name.sql</c>.</exception>
    public static Migration FromFile(string fileName, string sql)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(sql);
        var name = fileName.EndsWith(".sql", StringComparison.OrdinalIgnoreCase) ? fileName[..^4] : fileName;
        var underscore = name.IndexOf('_', StringComparison.Ordinal);
        if (underscore != 4 || !int.TryParse(name.AsSpan(0, 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version) || version == 0 || name.Length == 5)
        {
            throw new MigrationException($"Migration file '{fileName}' is not named NNNN_name.sql (four digits from 0001, an underscore, a name).");
        }

        var normalised = sql.Replace("\r\n", "\n", StringComparison.Ordinal);
        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
        var inTransaction = !normalised.TrimStart().StartsWith(NoTransactionMarker, StringComparison.Ordinal);
        return new Migration(version, name, normalised, checksum, inTransaction);
    }
}
