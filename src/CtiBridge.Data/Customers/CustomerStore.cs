using System.Text.RegularExpressions;
using CtiBridge.Data.Dialer;
using CtiBridge.Data.Exports;
using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Customers;

/// <summary>A customer known by phone number (<c>customers</c>).</summary>
/// <param name="Number">The number as the caller ID gives it (digits, optional leading +).</param>
/// <param name="CustomerId">CRM customer ID (screen pop).</param>
/// <param name="Vip">Served first.</param>
/// <param name="Member">Member (会员).</param>
/// <param name="Blocked">Blacklisted: hears the blocked prompt and is released.</param>
/// <param name="AssignedAgent">The customer's own agent (所属坐席).</param>
/// <param name="Language">Prompt language (e.g. <c>zh</c>, <c>en</c>).</param>
public sealed record Customer(string Number, string? CustomerId = null, bool Vip = false, bool Member = false, bool Blocked = false, string? AssignedAgent = null, string? Language = null);

/// <summary>The <c>customers</c> table: read by the customer lookup when a call enters, written by administrators.</summary>
public sealed class CustomerStore(NpgsqlDataSource dataSource)
{
    /// <summary>The customer calling from <paramref name="number"/>, or null when the number is unknown.</summary>
    public async Task<Customer?> FindAsync(string number, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(number);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("customer_find"));
        command.Parameters.AddWithValue("number", number);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new Customer(number,
            reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5));
    }

    /// <summary>Adds or replaces the customer with <see cref="Customer.Number"/>.</summary>
    /// <exception cref="ArgumentException">The number or language is not well formed (the message says which and why).</exception>
    public async Task PutAsync(Customer customer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customer);
        if (CustomerRules.Problems(customer) is [var problem, ..])
        {
            throw new ArgumentException(problem.Field == "number" ? problem.Message : $"customer {customer.Number}: {problem.Message}", nameof(customer));
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("customer_put"));
        AddPutParameters(command.Parameters, customer);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.CheckViolation)
        {
            throw new ArgumentException($"customer {customer.Number}: language '{customer.Language}' is not a language code (e.g. \"zh\", \"en\", \"pt_BR\")", nameof(customer), ex);
        }
    }

    /// <summary>A page of customers in number order: those after <paramref name="after"/>, at most <paramref name="limit"/>.</summary>
    /// <param name="after">The last number of the previous page, or null for the first page.</param>
    /// <param name="blocked">Only blacklisted (true) or only not blacklisted (false) customers; null: all.</param>
    /// <param name="limit">At most this many (1-10 000).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<IReadOnlyList<Customer>> ListAsync(string? after, bool? blocked, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("customer_list"));
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)after ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("blocked", NpgsqlTypes.NpgsqlDbType.Boolean) { Value = (object?)blocked ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit);
        var list = new List<Customer>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new Customer(reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return list;
    }

    /// <summary>Removes the customer with <paramref name="number"/>; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string number, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(number);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("customer_delete"));
        command.Parameters.AddWithValue("number", number);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>
    /// Adds or replaces every customer of <paramref name="customers"/> in one transaction (all or none);
    /// with <paramref name="replaceAll"/> every customer not in the list is removed too.
    /// </summary>
    /// <returns>How many rows were written and how many removed.</returns>
    /// <exception cref="ArgumentException">A customer is not well formed (nothing is written).</exception>
    public async Task<(int Written, int Removed)> ImportAsync(IReadOnlyList<Customer> customers, bool replaceAll, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customers);
        foreach (var customer in customers)
        {
            if (CustomerRules.Problems(customer) is [var problem, ..])
            {
                throw new ArgumentException($"customer {customer.Number}: {problem.Message}", nameof(customers));
            }
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var removed = 0;
        if (replaceAll)
        {
            await using var clear = new NpgsqlCommand(NamedQueries.Get("customer_delete_others"), connection, transaction);
            clear.Parameters.AddWithValue("numbers", customers.Select(c => c.Number).ToArray());
            removed = await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var put = NamedQueries.Get("customer_put");
        foreach (var customer in customers)
        {
            await using var command = new NpgsqlCommand(put, connection, transaction);
            AddPutParameters(command.Parameters, customer);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (customers.Count, removed);
    }

    /// <summary>The parameters of <c>customer_put</c>: one customer's row.</summary>
    private static void AddPutParameters(NpgsqlParameterCollection parameters, Customer customer)
    {
        parameters.AddWithValue("number", customer.Number);
        parameters.AddWithValue("customer_id", (object?)customer.CustomerId ?? DBNull.Value);
        parameters.AddWithValue("vip", customer.Vip);
        parameters.AddWithValue("member", customer.Member);
        parameters.AddWithValue("blocked", customer.Blocked);
        parameters.AddWithValue("assigned_agent", (object?)customer.AssignedAgent ?? DBNull.Value);
        parameters.AddWithValue("language", (object?)customer.Language ?? DBNull.Value);
    }
}

/// <summary>What makes a <see cref="Customer"/> well formed; the same rules as the table's checks, with messages that say what is wrong.</summary>
public static partial class CustomerRules
{
    /// <summary>Every problem of <paramref name="customer"/>: the field (<c>number</c>, <c>customerId</c>, <c>assignedAgent</c>, <c>language</c>) and what is wrong.</summary>
    public static IReadOnlyList<(string Field, string Message)> Problems(Customer customer)
    {
        ArgumentNullException.ThrowIfNull(customer);
        var problems = new List<(string, string)>();
        var digits = customer.Number?.StartsWith('+') == true ? customer.Number[1..] : customer.Number ?? string.Empty;
        if (digits.Length is 0 or > 32 || !digits.All(char.IsAsciiDigit))
        {
            problems.Add(("number", $"customer number '{customer.Number}' is not a phone number (digits, optionally a leading +, at most 32 digits)"));
        }

        if (customer.CustomerId is { Length: > 200 })
        {
            problems.Add(("customerId", $"customer ID is {customer.CustomerId.Length} characters long; at most 200"));
        }

        if (customer.AssignedAgent is { } agent && (agent.Length is 0 or > 64 || agent.Any(char.IsWhiteSpace)))
        {
            problems.Add(("assignedAgent", $"assigned agent '{agent}' is not an agent ID (1-64 characters, no spaces)"));
        }

        if (customer.Language is { } language && !LanguageCode().IsMatch(language))
        {
            problems.Add(("language", $"language '{language}' is not a language code (e.g. \"zh\", \"en\", \"pt_BR\")"));
        }

        return problems;
    }

    [GeneratedRegex(@"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")]
    private static partial Regex LanguageCode();
}

/// <summary>
/// The customers file (CSV, UTF-8, header <c>number,customer_id,vip,member,blocked,assigned_agent,language</c>)
/// that <c>ctibridge customers import/export</c> read and write.
/// </summary>
public static class CustomerCsv
{
    /// <summary>The header line, in column order.</summary>
    public static readonly IReadOnlyList<string> Columns = ["number", "customer_id", "vip", "member", "blocked", "assigned_agent", "language"];

    /// <summary>Reads every customer of the file; every problem is one line naming the line and column (then nothing should be imported).</summary>
    public static async Task<(IReadOnlyList<Customer> Customers, IReadOnlyList<string> Problems)> ReadAsync(TextReader reader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var customers = new List<Customer>();
        var problems = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        Dictionary<string, int>? columns = null;
        await foreach (var record in new CsvRecordReader(reader).ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (record.Error is not null)
            {
                problems.Add($"line {record.Line}: {record.Error}");
                continue;
            }

            if (columns is null)
            {
                columns = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < record.Fields.Count; i++)
                {
                    var name = record.Fields[i].Trim().TrimStart('\uFEFF');
                    if (!Columns.Contains(name, StringComparer.OrdinalIgnoreCase))
                    {
                        problems.Add($"line {record.Line}, column {i + 1}: '{name}' is not a customers column (known: {string.Join(", ", Columns)})");
                    }
                    else if (!columns.TryAdd(name, i))
                    {
                        problems.Add($"line {record.Line}, column {i + 1}: '{name}' appears twice");
                    }
                }

                if (!columns.ContainsKey("number"))
                {
                    problems.Add($"line {record.Line}: the header has no 'number' column");
                    return (customers, problems);
                }

                continue;
            }

            if (record.Fields.Count == 1 && record.Fields[0].Length == 0)
            {
                continue; // an empty line
            }

            string? Field(string name) => columns.TryGetValue(name, out var i) && i < record.Fields.Count && record.Fields[i].Trim() is { Length: > 0 } v ? v : null;
            bool Flag(string name)
            {
                var value = Field(name);
                switch (value?.ToLowerInvariant())
                {
                    case null or "0" or "false" or "no" or "n":
                        return false;
                    case "1" or "true" or "yes" or "y":
                        return true;
                    default:
                        problems.Add($"line {record.Line}, column {name}: '{value}' is not true/false (1/0, yes/no)");
                        return false;
                }
            }

            var customer = new Customer(Field("number") ?? string.Empty, Field("customer_id"), Flag("vip"), Flag("member"), Flag("blocked"), Field("assigned_agent"), Field("language"));
            var before = problems.Count;
            foreach (var (field, message) in CustomerRules.Problems(customer))
            {
                problems.Add($"line {record.Line}, column {ColumnOf(field)}: {message}");
            }

            if (customer.Number.Length > 0 && !seen.TryAdd(customer.Number, record.Line))
            {
                problems.Add($"line {record.Line}, column number: {customer.Number} is already on line {seen[customer.Number]}");
            }

            if (problems.Count == before)
            {
                customers.Add(customer);
            }
        }

        if (columns is null)
        {
            problems.Add("line 1: the file is empty (expected a header: " + string.Join(",", Columns) + ")");
        }

        return (customers, problems);
    }

    /// <summary>Writes the header and one line per customer.</summary>
    public static void Write(TextWriter writer, IEnumerable<Customer> customers)
    {
        ArgumentNullException.ThrowIfNull(customers);
        var csv = new CsvWriter(writer);
        foreach (var column in Columns)
        {
            csv.WriteField(column);
        }

        csv.EndRecord();
        foreach (var c in customers)
        {
            csv.WriteField(c.Number);
            csv.WriteField(c.CustomerId);
            csv.WriteField(c.Vip ? "true" : "false");
            csv.WriteField(c.Member ? "true" : "false");
            csv.WriteField(c.Blocked ? "true" : "false");
            csv.WriteField(c.AssignedAgent);
            csv.WriteField(c.Language);
            csv.EndRecord();
        }
    }

    private static string ColumnOf(string field) => field switch
    {
        "customerId" => "customer_id",
        "assignedAgent" => "assigned_agent",
        _ => field,
    };
}
