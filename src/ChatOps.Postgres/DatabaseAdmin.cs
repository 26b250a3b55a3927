using Npgsql;

namespace ChatOps.Postgres;

/// <summary>Creating and dropping whole databases on a server (demo and test databases, templates).</summary>
public static class DatabaseAdmin
{
    /// <summary>Creates <paramref name="name"/>, optionally as a copy of <paramref name="template"/>.
    /// A template must have no open sessions: callers close theirs (pooling off) first.</summary>
    public static async Task CreateAsync(string serverConnectionString, string name, string? template, CancellationToken cancellationToken)
    {
        var sql = template is null
            ? $"CREATE DATABASE {Quote(name)}"
            // FILE_COPY: copies the files once instead of WAL-logging every block (PG15's default) — faster for copies.
            : $"CREATE DATABASE {Quote(name)} TEMPLATE {Quote(template)} STRATEGY FILE_COPY";
        await ExecuteAsync(serverConnectionString, sql, cancellationToken);
    }

    /// <summary>Drops <paramref name="name"/> if it exists, disconnecting its sessions.</summary>
    public static Task DropAsync(string serverConnectionString, string name, CancellationToken cancellationToken) =>
        ExecuteAsync(serverConnectionString, $"DROP DATABASE IF EXISTS {Quote(name)} WITH (FORCE)", cancellationToken);

    /// <summary>Runs every statement of a trusted script (schema, functions) in order, each as its own command.</summary>
    public static async Task RunScriptAsync(string connectionString, string script, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        foreach (var statement in Core.Scripts.SqlScript.Parse(script).Statements)
        {
            await using var command = new NpgsqlCommand(statement.Text, connection) { CommandTimeout = 0 };
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>A double-quoted identifier.</summary>
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    private static async Task ExecuteAsync(string serverConnectionString, string sql, CancellationToken cancellationToken)
    {
        // No pooling: an idle pooled session on a template would make the next copy fail.
        var cs = new NpgsqlConnectionStringBuilder(serverConnectionString) { Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
