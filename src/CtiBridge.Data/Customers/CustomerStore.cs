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
        if (string.IsNullOrEmpty(customer.Number) || customer.Number.Length > 33 || !customer.Number.TrimStart('+').All(char.IsAsciiDigit) || customer.Number.TrimStart('+').Length == 0)
        {
            throw new ArgumentException($"customer number '{customer.Number}' is not a phone number (digits, optionally a leading +, at most 32 digits)", nameof(customer));
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("customer_put"));
        command.Parameters.AddWithValue("number", customer.Number);
        command.Parameters.AddWithValue("customer_id", (object?)customer.CustomerId ?? DBNull.Value);
        command.Parameters.AddWithValue("vip", customer.Vip);
        command.Parameters.AddWithValue("member", customer.Member);
        command.Parameters.AddWithValue("blocked", customer.Blocked);
        command.Parameters.AddWithValue("assigned_agent", (object?)customer.AssignedAgent ?? DBNull.Value);
        command.Parameters.AddWithValue("language", (object?)customer.Language ?? DBNull.Value);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.CheckViolation)
        {
            throw new ArgumentException($"customer {customer.Number}: language '{customer.Language}' is not a language code (e.g. \"zh\", \"en\", \"pt_BR\")", nameof(customer), ex);
        }
    }
}
