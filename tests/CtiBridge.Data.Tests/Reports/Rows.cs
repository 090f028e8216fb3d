using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>Reads report rows as column-name dictionaries.</summary>
internal static class Rows
{
    public static async Task<List<Dictionary<string, object?>>> ReadAsync(TestDatabase db, string sql, CancellationToken cancellationToken)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public static long L(this Dictionary<string, object?> row, string column) => Convert.ToInt64(row[column], System.Globalization.CultureInfo.InvariantCulture);

    public static double F(this Dictionary<string, object?> row, string column) => Convert.ToDouble(row[column], System.Globalization.CultureInfo.InvariantCulture);
}
