using System.Globalization;
using CtiBridge.Core.Dialer;
using Npgsql;

namespace CtiBridge.Data.Dialer;

/// <summary>
/// Reads a <c>dialer_leads</c> row into the domain <see cref="Lead"/>: the one place that knows how the
/// lead's columns map (its database id as text, a null time zone, next attempt or last outcome), so the
/// hopper and the adoption of a dead instance's attempts read a lead alike.
/// </summary>
internal static class LeadRow
{
    /// <summary>
    /// Reads the lead whose columns stand at <paramref name="at"/> in the current row of <paramref name="reader"/>.
    /// </summary>
    /// <param name="reader">A reader on a row.</param>
    /// <param name="at">Where the lead's columns stand in the row.</param>
    /// <returns>The lead.</returns>
    public static Lead Read(NpgsqlDataReader reader, LeadOrdinals at) => new()
    {
        Id = reader.GetInt64(at.Id).ToString(CultureInfo.InvariantCulture),
        PhoneNumber = reader.GetString(at.PhoneNumber),
        TimeZoneId = reader.IsDBNull(at.TimeZoneId) ? null : reader.GetString(at.TimeZoneId),
        Attempts = reader.GetInt32(at.Attempts),
        NextAttemptAt = reader.IsDBNull(at.NextAttemptAt) ? null : reader.GetFieldValue<DateTimeOffset>(at.NextAttemptAt),
        LastOutcome = reader.IsDBNull(at.LastOutcome) ? null : Enum.Parse<CallOutcome>(reader.GetString(at.LastOutcome)),
    };
}

/// <summary>Where a lead's columns stand in a query's row (0-based ordinals).</summary>
/// <param name="Id">The lead's id (<c>bigint</c>).</param>
/// <param name="PhoneNumber">The number to dial.</param>
/// <param name="TimeZoneId">The lead's time zone, or null.</param>
/// <param name="Attempts">How many attempts were made.</param>
/// <param name="NextAttemptAt">When it is due again, or null.</param>
/// <param name="LastOutcome">The last attempt's outcome (a <see cref="CallOutcome"/> name), or null.</param>
internal readonly record struct LeadOrdinals(int Id, int PhoneNumber, int TimeZoneId, int Attempts, int NextAttemptAt, int LastOutcome);
