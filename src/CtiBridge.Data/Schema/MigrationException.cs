namespace CtiBridge.Data.Schema;

/// <summary>
/// The schema cannot be brought to the version this code expects: a badly named or duplicate
/// migration, an applied migration whose file has changed, a database newer than the code, or a
/// migration whose SQL failed. The message says which migration and why.
/// </summary>
public class MigrationException : Exception
{
    /// <summary>Creates the exception with a message naming the migration and the problem.</summary>
    public MigrationException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the database error underneath.</summary>
    public MigrationException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with no message (for serializers and tooling).</summary>
    public MigrationException()
    {
    }
}
