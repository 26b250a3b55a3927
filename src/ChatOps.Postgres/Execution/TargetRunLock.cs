using System.Diagnostics;
using ChatOps.Core.Execution;
using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>Thrown when another run holds the target's run lock; the message says who, and what to do.</summary>
public sealed class TargetBusyException(string message) : Exception(message);

/// <summary>
/// One run per target database: a session-level advisory lock keyed on the database name, held by the run's own
/// session — the one its statements run in — from before the pre-deployment checks to the verdict (or through a
/// rollback), and released by PostgreSQL when that session ends. Because it is the statements' session, a run whose
/// process was killed keeps the lock exactly as long as its orphaned statement keeps running.
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
        throw new TargetBusyException(await DescribeHolderAsync(session, cancellationToken));
    }

    /// <summary>Who holds the lock: the session, what it runs, and whether the bot process that owns it still exists.</summary>
    private static async Task<string> DescribeHolderAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand("SELECT to_regclass('chatops.migration_history') IS NOT NULL", session);
        // The history names the bot process that began the holder's run (a query on a table that may not exist yet would not parse).
        var owner = (bool)(await exists.ExecuteScalarAsync(cancellationToken))!
            ? "(SELECT h.client || ' ' || h.migration FROM chatops.migration_history h WHERE 'chatops:' || h.run_id = a.application_name ORDER BY h.id DESC LIMIT 1)"
            : "NULL::text";
        await using var who = new NpgsqlCommand($"""
            SELECT a.pid, coalesce(a.application_name, ''), a.backend_start, coalesce(host(a.client_addr), 'local'),
                   coalesce(a.state, ''), coalesce(a.query, ''), extract(epoch FROM now() - coalesce(a.query_start, a.backend_start))::float8,
                   {owner}
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid
              AND l.objid = (hashtext(current_database()) & 2147483647)::oid AND l.objsubid = 2
            """, session);
        who.Parameters.Add(new NpgsqlParameter { Value = Namespace });
        await using var reader = await who.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return $"another migration run held database {session.Database} a moment ago and has just ended: try again.";

        var pid = reader.GetInt32(0);
        var name = reader.GetString(1);
        var running = reader.GetString(4) == "active"
            ? $", running `{QueryText.Redact(reader.GetString(5), 80).ReplaceLineEndings(" ")}` for {Durations.Short(TimeSpan.FromSeconds(reader.GetDouble(6)))}"
            : $", {reader.GetString(4)}";
        var holder = $"server session pid {pid} ({name}, from {reader.GetString(3)}, connected since {reader.GetDateTime(2):u}{running})";
        var stop = $"SELECT pg_terminate_backend({pid});";
        var process = reader.IsDBNull(7) ? null : reader.GetString(7);
        if (process is null)
            return $"another migration run holds database {session.Database}: {holder}. Wait for it to finish, or stop it: {stop}";

        // "host pid N migration": the bot process recorded in the history when the run began.
        var parts = process.Split(' ');
        var (host, processId, migration) = (parts[0], int.TryParse(parts.ElementAtOrDefault(2), out var p) ? p : 0, parts.ElementAtOrDefault(3) ?? "a migration");
        if (host == Environment.MachineName && processId > 0 && !IsAlive(processId))
            return $"database {session.Database} is held by an orphaned run of {migration}: its bot process ({processId} on {host}) is gone, but its {holder} " +
                   $"keeps the run lock until its statement ends. Stop it now with: {stop} — then run again: the journal resumes after what completed.";
        return $"another migration run ({migration}, bot process {processId} on {host}) holds database {session.Database}: {holder}. " +
               $"Wait for it to finish, or stop it: {stop}";
    }

    private static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
