using ChatOps.Core.Monitoring;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>Reads <c>pg_stat_database</c>'s transaction counters for the connected database.</summary>
public static class TransactionCounters
{
    /// <summary>PostgreSQL 14+ counts sessions that ended by a fatal error, were terminated, or lost their client.</summary>
    internal const string SessionsLostPg14 = "sessions_fatal + sessions_killed + sessions_abandoned";

    /// <summary>The target database's transaction counters now.</summary>
    public static async Task<TransactionCounts> ReadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var lost = connection.PostgreSqlVersion.Major >= 14 ? SessionsLostPg14 : "NULL::int8";
        await using var command = new NpgsqlCommand(
            $"SELECT xact_commit, xact_rollback, deadlocks, {lost} FROM pg_stat_database WHERE datname = current_database()", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new TransactionCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetInt64(3));
    }
}
