using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>The catalog questions the executor asks the target: who holds conflicting locks, is an index
/// INVALID, does a postcondition hold, who holds the run lock. Short queries that hold no snapshot for long.</summary>
public sealed class TargetCatalog(NpgsqlConnection connection)
{
    private readonly Dictionary<DbObjectName, uint?> _oids = [];

    /// <summary>
    /// Sessions other than <paramref name="excludedPids"/> holding a granted lock on one of
    /// <paramref name="locks"/>' tables that conflicts with the mode needed there, inside a transaction
    /// older than <paramref name="olderThan"/> or idle in transaction (zero: any age).
    /// </summary>
    public async Task<IReadOnlyList<BlockingSession>> BlockersAsync(IEnumerable<TableLock> locks, IReadOnlyList<int> excludedPids,
        TimeSpan olderThan, CancellationToken cancellationToken) =>
        // An ordinary autovacuum is no one to wait for: PostgreSQL cancels it for a lock request (see AutovacuumInTheWayAsync).
        (await HoldersAsync(locks, excludedPids, olderThan, cancellationToken)).Where(h => !h.OrdinaryAutovacuum).Select(h => h.Session).ToList();

    /// <summary>
    /// Autovacuum workers holding a lock on one of <paramref name="locks"/>' tables that conflicts with the mode needed there.
    /// PostgreSQL cancels an ordinary one that blocks a lock request (after <c>deadlock_timeout</c>); one running "to prevent
    /// wraparound" it never cancels.
    /// </summary>
    public async Task<IReadOnlyList<(BlockingSession Session, bool Wraparound)>> AutovacuumInTheWayAsync(IEnumerable<TableLock> locks, CancellationToken cancellationToken) =>
        (await HoldersAsync(locks, [], TimeSpan.Zero, cancellationToken)).Where(h => h.Autovacuum)
            .Select(h => (h.Session, !h.OrdinaryAutovacuum)).ToList();

    private sealed record Holder(BlockingSession Session, bool Autovacuum)
    {
        public bool OrdinaryAutovacuum => Autovacuum && !Session.Query.Contains("to prevent wraparound", StringComparison.Ordinal);
    }

    private async Task<List<Holder>> HoldersAsync(IEnumerable<TableLock> locks, IReadOnlyList<int> excludedPids,
        TimeSpan olderThan, CancellationToken cancellationToken)
    {
        var found = new Dictionary<int, Holder>();
        foreach (var l in locks.Where(l => l.Mode != LockMode.None))
        {
            if (await OidAsync(l.Table, cancellationToken) is not { } oid)
                continue;   // the table does not exist (yet): nobody can hold a lock on it
            await using var command = new NpgsqlCommand("""
                SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
                       extract(epoch FROM now() - a.xact_start)::float8, coalesce(a.query, ''), l.mode,
                       coalesce(a.backend_type = 'autovacuum worker', false)
                FROM pg_locks l
                JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'relation' AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  -- An index's lock comes with its table's: whoever uses the table is in the way of DDL on the index.
                  AND (l.relation = $1 OR l.relation = (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = $1))
                  AND l.mode = ANY($2)
                  AND a.pid <> ALL($3)
                  AND (a.state LIKE 'idle in transaction%' OR a.xact_start <= now() - $4::interval)
                ORDER BY a.xact_start
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            command.Parameters.Add(new NpgsqlParameter { Value = l.Mode.ConflictsWith().Select(m => m.PgLocksName()).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = excludedPids.ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = olderThan });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var pid = reader.GetInt32(0);
                if (found.ContainsKey(pid)) continue;
                TimeSpan? age = reader.IsDBNull(3) ? null : TimeSpan.FromSeconds(reader.GetDouble(3));
                found[pid] = new Holder(new BlockingSession(pid, reader.GetString(1), reader.GetString(2), age,
                    QueryText.Redact(reader.GetString(4)), reader.GetString(5), l.Table.ToString()), reader.GetBoolean(6));
            }
        }
        return found.Values.ToList();
    }

    /// <summary>True when an index of that name exists and is INVALID (a failed or cancelled concurrent build).</summary>
    public async Task<bool> IsInvalidIndexAsync(DbObjectName index, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = index.ToString() });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Done when every postcondition holds, NotDone when one does not, Unknown when there are none.</summary>
    public async Task<PostconditionVerdict> JudgeAsync(IReadOnlyList<Postcondition> postconditions, CancellationToken cancellationToken)
    {
        if (postconditions.Count == 0)
            return PostconditionVerdict.Unknown;
        foreach (var p in postconditions)
        {
            if (!await HoldsAsync(p, cancellationToken))
                return PostconditionVerdict.NotDone;
        }
        return PostconditionVerdict.Done;
    }

    private async Task<bool> HoldsAsync(Postcondition postcondition, CancellationToken cancellationToken)
    {
        var (sql, args) = postcondition switch
        {
            ColumnExists c => ("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) = $3",
                new object[] { c.Table.ToString(), c.Column, c.Exists }),
            ColumnNotNull c => ("SELECT coalesce((SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) = $3, false)",
                [c.Table.ToString(), c.Column, c.NotNull]),
            ColumnHasDefault c => ("SELECT coalesce((SELECT atthasdef FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) = $3, false)",
                [c.Table.ToString(), c.Column, c.HasDefault]),
            IndexValid { Exists: true } i => ("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND indisvalid)", [i.Index.ToString()]),
            IndexValid i => ("SELECT to_regclass($1) IS NULL", [i.Index.ToString()]),
            PolicyExists p => ("SELECT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass($1) AND polname = $2) = $3",
                [p.Table.ToString(), p.Policy, p.Exists]),
            FunctionExists f => ("""
                SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                               WHERE p.proname = $1 AND n.nspname = coalesce($2, current_schema()) AND p.pronargs = $3) = $4
                """, [f.Function.Name, (object?)f.Function.Schema ?? DBNull.Value, (short)f.Arguments, f.Exists]),
            ConstraintExists c => ("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2) = $3",
                [c.Table.ToString(), c.Constraint, c.Exists]),
            _ => throw new ArgumentOutOfRangeException(nameof(postcondition), postcondition, "no catalog query for this postcondition"),
        };
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var arg in args)
            command.Parameters.Add(arg is DBNull ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } : new NpgsqlParameter { Value = arg });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<uint?> OidAsync(DbObjectName table, CancellationToken cancellationToken)
    {
        if (_oids.TryGetValue(table, out var cached) && cached is not null)
            return cached;
        await using var command = new NpgsqlCommand("SELECT to_regclass($1)::oid", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = table.ToString() });
        var value = await command.ExecuteScalarAsync(cancellationToken);
        var oid = value is uint u ? u : (uint?)null;
        _oids[table] = oid;
        return oid;
    }
}
