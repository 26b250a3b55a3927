using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>The checklist's pre-deployment items that SQL can answer; the rest are listed for their roles to confirm.</summary>
public static class PreDeploymentChecks
{
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(NpgsqlConnection connection, MigrationPlan plan, MigrationRunbook runbook,
        TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var results = new List<CheckResult>();
        // The tables the migration changes: it must own them. Tables it only reads or references need no ownership.
        var tables = plan.Statements.SelectMany(s => s.ChangedTables).Distinct().ToList();

        var (version, user, superuser, readsStats) = await ReadAsync(connection, """
            SELECT current_setting('server_version'), current_user::text, rolsuper,
                   rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
            FROM pg_roles WHERE rolname = current_user
            """, r => (r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3)), cancellationToken);
        results.Add(new("target reachable", CheckStatus.Pass, $"PostgreSQL {version} as {user}{(superuser ? " (superuser)" : "")}"));

        var notOwned = new List<string>();
        var missing = new List<string>();
        foreach (var table in tables)
        {
            var owned = await ScalarAsync<bool?>(connection,
                "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class WHERE oid = to_regclass($1)", cancellationToken, table.ToString());
            if (owned is null) missing.Add(table.ToString());
            else if (owned == false) notOwned.Add(table.ToString());
        }
        results.Add(notOwned.Count > 0
            ? new("privileges", CheckStatus.Fail, $"{user} does not own {string.Join(", ", notOwned)}: DDL will fail. Connect as the owner (or a member of its role).")
            : new("privileges", CheckStatus.Pass, $"owns {string.Join(", ", tables.Select(t => t.ToString()).Except(missing))}{(missing.Count > 0 ? $"; {string.Join(", ", missing)} created by the migration" : "")}"));
        results.Add(readsStats
            ? new("can see other sessions", CheckStatus.Pass, "pg_stat_activity shows every session's query")
            : new("can see other sessions", CheckStatus.Warn, "grant pg_read_all_stats: without it blockers' queries show as <insufficient privilege>"));
        if (runbook.RlsProbe is { } probe)
        {
            var exists = await ScalarAsync<bool>(connection, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, probe.Role);
            results.Add(exists
                ? new("RLS probe role", CheckStatus.Pass, $"{probe.Role} exists")
                : new("RLS probe role", CheckStatus.Warn, $"role {probe.Role} does not exist: RLS overhead cannot be measured"));
        }

        var (used, max) = await ReadAsync(connection,
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, current_setting('max_connections')::int",
            r => (r.GetInt32(0), r.GetInt32(1)), cancellationToken);
        results.Add(new("connections", used > 0.8 * max ? CheckStatus.Warn : CheckStatus.Pass, $"{used}/{max} ({100.0 * used / max:0} %)"));

        var (replicas, lag) = await ReadAsync(connection,
            "SELECT count(*)::int, coalesce(extract(epoch FROM max(replay_lag)), 0)::float8 FROM pg_stat_replication",
            r => (r.GetInt32(0), r.GetDouble(1)), cancellationToken);
        results.Add(replicas == 0
            ? new("replication lag", CheckStatus.Pass, "no replicas attached")
            : new("replication lag", lag < 10 ? CheckStatus.Pass : CheckStatus.Fail, $"{lag:0.0} s over {replicas} replica(s) (limit 10 s)"));

        var indexBytes = 0L;
        foreach (var table in tables.Where(t => !missing.Contains(t.ToString())))
        {
            var (rows, bytes) = await ReadAsync(connection,
                "SELECT greatest(reltuples, 0)::bigint, pg_total_relation_size(oid) FROM pg_class WHERE oid = to_regclass($1)",
                r => (r.GetInt64(0), r.GetInt64(1)), cancellationToken, table.ToString());
            results.Add(new($"table {table}", CheckStatus.Pass, $"{rows:N0} rows, {bytes / 1048576.0:0.0} MB"));
            var builds = plan.Statements.Count(s => s.Kind.StartsWith("CREATE INDEX", StringComparison.Ordinal) && s.Tables.Contains(table));
            // The checklist's estimate: 20 % of the table's size per index built.
            indexBytes += (long)(builds * 0.2 * bytes);
        }
        if (indexBytes > 0)
            results.Add(new("disk space for indexes", CheckStatus.Manual, $"≈ {indexBytes / 1048576.0:0.0} MB needed (20 % of the table per index); free disk cannot be seen from SQL",
                SignOffRole.DatabaseAdministrator));

        foreach (var long_ in await LongTransactionsAsync(connection, tables, lockTimeout, cancellationToken))
            results.Add(new("long transaction", CheckStatus.Warn, $"{long_} — the run will wait for it"));

        results.AddRange(Checklist.ManualItems);
        return results;
    }

    private static async Task<List<string>> LongTransactionsAsync(NpgsqlConnection connection, IReadOnlyList<DbObjectName> tables, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        var found = new List<string>();
        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), extract(epoch FROM now() - a.xact_start)::float8, coalesce(a.query, '')
            FROM pg_stat_activity a
            JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'relation' AND l.relation = ANY(
                SELECT to_regclass(t)::oid FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL)
            WHERE a.pid <> pg_backend_pid() AND a.xact_start < now() - $2::interval
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tables.Select(t => t.ToString()).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = olderThan < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : olderThan });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var session = new BlockingSession(reader.GetInt32(0), reader.GetString(1), reader.GetString(2),
                TimeSpan.FromSeconds(reader.GetDouble(3)), QueryText.Redact(reader.GetString(4)), "holds locks", "the migrated tables");
            found.Add(session.Describe());
        }
        return found;
    }

    private static async Task<T> ReadAsync<T>(NpgsqlConnection connection, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return read(reader);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull or null ? default! : (T)value;
    }
}
