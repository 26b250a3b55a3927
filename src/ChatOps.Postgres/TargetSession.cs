using Npgsql;

namespace ChatOps.Postgres;

/// <summary>
/// The bot's own sessions on a target: named (<c>application_name</c>, so monitoring tells them from the
/// application's — <c>chatops:…</c> for the bot) and unpooled, so no session setting or lock of one use
/// leaks into another through a pool.
/// </summary>
public static class TargetSession
{
    /// <summary>How long any of the bot's queries waits for a table lock before it gives up and says who holds it (the
    /// executor's statements set their own, much shorter, per attempt).</summary>
    public static readonly TimeSpan QueryLockTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long any of the bot's queries may run (the executor's statements set their own, ChatOps:Execution:StatementTimeout).</summary>
    public static readonly TimeSpan QueryStatementTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Opens a dedicated session named <paramref name="applicationName"/>.</summary>
    /// <param name="commandTimeout">Client-side command timeout; 0 leaves bounding statements to the server's <c>statement_timeout</c>.</param>
    public static async Task<NpgsqlConnection> OpenAsync(string connectionString, string applicationName, CancellationToken cancellationToken, int commandTimeout = 0)
    {
        // ConnectionStrings.Parse: URIs accepted, and no parse error quotes the string.
        var builder = ConnectionStrings.Parse(connectionString);
        builder.ApplicationName = applicationName;
        builder.Pooling = false;
        builder.CommandTimeout = commandTimeout;
        // No silent hang: a check queued behind an ACCESS EXCLUSIVE holder gives up and is reported with the holder.
        // The target's own Options come after, so a setting given there wins.
        builder.Options = $"-c lock_timeout={(int)QueryLockTimeout.TotalMilliseconds} -c statement_timeout={(int)QueryStatementTimeout.TotalMilliseconds}" +
                          (string.IsNullOrWhiteSpace(builder.Options) ? "" : " " + builder.Options);
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            // TargetFailure names host, port, database and user from this, never from the connection string.
            TargetFailure.Remember(ex, ConnectionStrings.Endpoint(builder));
            await connection.DisposeAsync();
            throw;
        }
        return connection;
    }
}
