using Npgsql;

namespace ChatOps.Postgres;

/// <summary>Connection string helpers that keep secrets out of what people and logs see.</summary>
public static class ConnectionStrings
{
    /// <summary>"host:port/database as user", never the password.</summary>
    public static string Describe(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"{b.Host}:{b.Port}/{b.Database ?? b.Username} as {b.Username}";
        }
        catch (ArgumentException)
        {
            return "an unparsable connection string";
        }
    }

    /// <summary>The same server, another database.</summary>
    public static string WithDatabase(string connectionString, string database) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Database = database }.ConnectionString;

    /// <summary>The same server with an <c>application_name</c>, so monitoring can tell whose session it is.</summary>
    public static string WithApplicationName(string connectionString, string applicationName) =>
        new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = applicationName }.ConnectionString;
}
