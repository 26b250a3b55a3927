using Npgsql;

namespace ChatOps.Postgres;

/// <summary>
/// The bot's own sessions on a target: named (<c>application_name</c>, so monitoring tells them from the
/// application's — <c>chatops:…</c> for the bot) and unpooled, so no session setting or lock of one use
/// leaks into another through a pool.
/// </summary>
public static class TargetSession
{
    /// <summary>Opens a dedicated session named <paramref name="applicationName"/>.</summary>
    /// <param name="commandTimeout">Client-side command timeout; 0 leaves bounding statements to the server's <c>statement_timeout</c>.</param>
    public static async Task<NpgsqlConnection> OpenAsync(string connectionString, string applicationName, CancellationToken cancellationToken, int commandTimeout = 0)
    {
        // ConnectionStrings.Parse: URIs accepted, and no parse error quotes the string.
        var builder = ConnectionStrings.Parse(connectionString);
        builder.ApplicationName = applicationName;
        builder.Pooling = false;
        builder.CommandTimeout = commandTimeout;
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
