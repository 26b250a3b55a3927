using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>The checklist's pre-deployment items that SQL can answer; the rest are listed for their roles to confirm.</summary>
public static class PreDeploymentChecks
{
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(NpgsqlConnection connection, MigrationPlan plan, MigrationRunbook runbook,
        TimeSpan lockTimeout, CancellationToken cancellationToken, TimeSpan? oldSnapshot = null, TimeSpan? lagLimit = null)
    {
        var results = new List<CheckResult>();
        // The tables the migration changes: it must own them. Tables it only reads or references need no ownership.
        var tables = plan.Statements.SelectMany(s => s.ChangedTables).Distinct().ToList();

        var (version, user, superuser, readsStats) = await ReadAsync(connection, """
            SELECT current_setting('server_version'), current_user::text, rolsuper,
                   rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
            FROM pg_roles WHERE rolname = current_user
            """, r => (r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3)), cancellationToken);
        results.Add(new("target reachable", CheckStatus.Pass, $"PostgreSQL {version} as {user}{(superuser ? " (superuser)" : "")} on database {connection.Database}"));

        // A standby or a read-only session passes every read; the migration's first write would fail half-way into the run.
        var (standby, readOnly) = await ReadAsync(connection, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'",
            r => (r.GetBoolean(0), r.GetBoolean(1)), cancellationToken);
        results.Add(standby
            ? new("target writable", CheckStatus.Fail, "the target is a standby (in recovery, read-only): connect to the primary")
            : readOnly
                ? new("target writable", CheckStatus.Fail, "the session is read-only (default_transaction_read_only is on for this database or role, or target_session_attrs): connect to a writable primary")
                : new("target writable", CheckStatus.Pass, "a primary, read-write"));

        var notOwned = new List<string>();
        var missing = new List<string>();
        foreach (var table in tables)
        {
            var owned = await ScalarAsync<bool?>(connection,
                "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class WHERE oid = to_regclass($1)", cancellationToken, table.ToString());
            if (owned is null) missing.Add(table.ToString());
            else if (owned == false) notOwned.Add(table.ToString());
        }
        // A table the script changes but does not create must exist: otherwise this is the wrong database (a typo in Database=).
        var created = CreatedTables(plan);
        var absent = missing.Where(t => !created.Contains(DbObjectName.Parse(t))).ToList();
        if (absent.Count > 0)
            results.Add(new("tables exist", CheckStatus.Fail,
                $"{string.Join(", ", absent)} {(absent.Count == 1 ? "does" : "do")} not exist in database {connection.Database}, and the migration changes " +
                $"{(absent.Count == 1 ? "it" : "them")} without creating {(absent.Count == 1 ? "it" : "them")}: is the target the right database?"));
        results.Add(notOwned.Count > 0
            ? new("privileges", CheckStatus.Fail, $"{user} does not own {string.Join(", ", notOwned)}: DDL will fail. Connect as the owner (or a member of its role).")
            : new("privileges", CheckStatus.Pass, $"owns {string.Join(", ", tables.Select(t => t.ToString()).Except(missing))}" +
                $"{(missing.Count > absent.Count ? $"; {string.Join(", ", missing.Except(absent))} created by the migration" : "")}"));
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
        results.Add(new("connections", ServerLimits.ConnectionsHigh(used, max) ? CheckStatus.Warn : CheckStatus.Pass, $"{used}/{max} ({100.0 * used / max:0} %)"));

        var (replicas, lag) = await ReadAsync(connection,
            "SELECT count(*)::int, coalesce(extract(epoch FROM max(replay_lag)), 0)::float8 FROM pg_stat_replication",
            r => (r.GetInt32(0), r.GetDouble(1)), cancellationToken);
        results.Add(replicas == 0
            ? new("replication lag", CheckStatus.Pass, "no replicas attached")
            : new("replication lag", ServerLimits.LagWithin(TimeSpan.FromSeconds(lag), lagLimit) ? CheckStatus.Pass : CheckStatus.Fail,
                $"{lag:0.0} s over {replicas} replica(s) (limit {(lagLimit ?? ServerLimits.ReplicationLag).TotalSeconds:0.#} s)"));

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

        // A concurrent index build waits for every transaction older than itself, whatever tables it touches.
        var concurrent = plan.Statements.Any(s => s.Statement.IsConcurrently);
        foreach (var old in await OldSnapshotsAsync(connection, oldSnapshot ?? TimeSpan.FromMinutes(1), cancellationToken))
            results.Add(new("old snapshot", CheckStatus.Warn, concurrent
                ? $"{old} — each CONCURRENTLY statement waits for it to end (it holds a snapshot, on any table)"
                : $"{old} — it holds back vacuum; the migration does not wait for it"));

        results.AddRange(Checklist.ManualItems);
        return results;
    }

    /// <summary>The tables the script creates (CREATE TABLE, CREATE TABLE AS): they need not exist before it runs.</summary>
    private static HashSet<DbObjectName> CreatedTables(MigrationPlan plan)
    {
        var created = new HashSet<DbObjectName>();
        foreach (var statement in plan.Statements.Select(s => s.Statement).Where(s => s.StartsWith("CREATE")))
        {
            var tokens = statement.Tokens;
            var at = 1;
            while (at < tokens.Count && (tokens[at].Is("UNLOGGED") || tokens[at].Is("TEMP") || tokens[at].Is("TEMPORARY") || tokens[at].Is("GLOBAL") || tokens[at].Is("LOCAL")))
                at++;
            if (at >= tokens.Count || !tokens[at].Is("TABLE"))
                continue;
            at++;
            if (at + 2 < tokens.Count && tokens[at].Is("IF") && tokens[at + 1].Is("NOT") && tokens[at + 2].Is("EXISTS"))
                at += 3;
            static string Part(SqlToken t) => t.Kind == SqlTokenKind.Word ? t.Value.ToLowerInvariant() : t.Value;
            if (at >= tokens.Count || tokens[at].Kind is not (SqlTokenKind.Word or SqlTokenKind.QuotedIdentifier))
                continue;
            var table = at + 2 < tokens.Count && tokens[at + 1].Value == "." ? new DbObjectName(Part(tokens[at]), Part(tokens[at + 2])) : new DbObjectName(null, Part(tokens[at]));
            // An unqualified name is public's (the usual search_path), as the checks read it.
            created.Add(table);
            created.Add(table.Schema is null ? table with { Schema = "public" } : table);
            if (table.Schema == "public") created.Add(table with { Schema = null });
        }
        return created;
    }

    private static async Task<List<string>> OldSnapshotsAsync(NpgsqlConnection connection, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        var found = new List<string>();
        await using var command = new NpgsqlCommand("""
            SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), extract(epoch FROM now() - a.xact_start)::float8, coalesce(a.query, '')
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
              AND a.backend_xmin IS NOT NULL AND a.xact_start < now() - $1::interval
            ORDER BY a.xact_start
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = olderThan });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            found.Add(new BlockingSession(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), TimeSpan.FromSeconds(reader.GetDouble(3)),
                QueryText.Redact(reader.GetString(4)), "a snapshot", "the database").Describe());
        return found;
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
              -- An ordinary autovacuum is not waited for (the executor cancels it); one preventing wraparound is.
              AND NOT (a.backend_type = 'autovacuum worker' AND coalesce(a.query, '') NOT LIKE '%to prevent wraparound%')
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
