using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>Thrown when another run holds the target's run lock; the message says who.</summary>
public sealed class TargetBusyException(string message) : Exception(message);

/// <summary>
/// One run per target database: a session-level advisory lock keyed on the database name, held by the
/// executor's own session for the whole run (and released by PostgreSQL if that session dies).
/// </summary>
public static class TargetRunLock
{
    // 'CHOP': our advisory lock namespace, so we never collide with an application's advisory locks.
    private const int Namespace = 0x43484F50;

    public static async Task AcquireAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var take = new NpgsqlCommand(
            "SELECT pg_try_advisory_lock($1, hashtext(current_database()) & 2147483647)", session);
        take.Parameters.Add(new NpgsqlParameter { Value = Namespace });
        if ((bool)(await take.ExecuteScalarAsync(cancellationToken))!)
            return;

        await using var who = new NpgsqlCommand("""
            SELECT a.pid, coalesce(a.application_name, ''), a.backend_start, coalesce(host(a.client_addr), 'local')
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid
              AND l.objid = (hashtext(current_database()) & 2147483647)::oid AND l.objsubid = 2
            """, session);
        who.Parameters.Add(new NpgsqlParameter { Value = Namespace });
        await using var reader = await who.ExecuteReaderAsync(cancellationToken);
        var holder = await reader.ReadAsync(cancellationToken)
            ? $"pid {reader.GetInt32(0)} ({reader.GetString(1)}, from {reader.GetString(3)}, connected since {reader.GetDateTime(2):u})"
            : "a session that has just ended";
        throw new TargetBusyException($"another migration run holds database {session.Database}: {holder}. Wait for it to finish, or stop it.");
    }
}
