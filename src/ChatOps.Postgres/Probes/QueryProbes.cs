using System.Text.Json;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>Which of the runbook's analytics queries the planner serves from an index.</summary>
public sealed record IndexUsage(int Queries, int UsingIndex, IReadOnlyList<string> NotUsingIndex)
{
    public double Percent => Queries == 0 ? 0 : 100.0 * UsingIndex / Queries;
}

/// <summary>
/// Measurements taken with the runbook's queries. Times are the server's own (<c>EXPLAIN ANALYZE</c>
/// execution time), so network and client noise stay out; each is the median of several runs.
/// </summary>
public sealed class QueryProbes(NpgsqlConnection connection)
{
    /// <summary>Opens a probe session (<c>chatops:&lt;run&gt;:probe</c>) on the target.</summary>
    public static async Task<QueryProbes> OpenAsync(string targetConnectionString, string runId, CancellationToken cancellationToken)
    {
        return new QueryProbes(await TargetSession.OpenAsync(targetConnectionString, $"chatops:{runId}:probe", cancellationToken));
    }

    public NpgsqlConnection Connection => connection;

    private long _transactions;
    private bool _inTransaction;

    /// <summary>Transactions this probe session has committed so far: pg_stat_database counts them with the application's,
    /// so the runbook takes them out when it judges the application's failure rate.</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Counts one finished command: its own transaction in autocommit, part of an open one otherwise.</summary>
    private void Counted()
    {
        if (!_inTransaction) Interlocked.Increment(ref _transactions);
    }

    /// <summary>Counts a command run on <see cref="Connection"/> by someone else (e.g. a catalog probe sharing the session).</summary>
    public void CountTransaction() => Interlocked.Increment(ref _transactions);

    /// <summary>The values of the runbook's <c>parameters</c> query (its first row), for <c>$1</c>, <c>$2</c>, ….</summary>
    public async Task<object[]> ParametersAsync(MigrationRunbook runbook, CancellationToken cancellationToken)
    {
        if (runbook.Parameters is null)
            return [];
        await using var command = new NpgsqlCommand(runbook.Parameters, connection);
        Counted();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            throw new InvalidOperationException("the runbook's 'parameters' query returned no row: is the table empty?");
        var values = new object[reader.FieldCount];
        reader.GetValues(values);
        return values;
    }

    /// <summary>A query the migration cannot affect (no table): its slow-down between rounds is the machine's, not the migration's.</summary>
    public const string ControlSql = "SELECT count(*) FROM generate_series(1, 5000)";

    /// <summary>Measures each benchmark query (those marked after-only only when <paramref name="after"/>) <paramref name="runs"/>
    /// times, interleaved with the control query so that both see the same moments of the machine.</summary>
    public async Task<BenchmarkRound> BenchmarksAsync(MigrationRunbook runbook, object[] parameters, bool after, int runs, CancellationToken cancellationToken)
    {
        var queries = runbook.Benchmarks.Where(b => after || !b.AfterOnly).ToList();
        var samples = queries.ToDictionary(q => q.Name, _ => new List<PlanSample>());
        var control = new List<PlanSample>();
        for (var i = 0; i < runs; i++)
        {
            foreach (var query in queries)
                samples[query.Name].Add(await SampleAsync(query.Sql, parameters, cancellationToken));
            control.Add(await SampleAsync(ControlSql, [], cancellationToken));
        }
        return new BenchmarkRound(queries.Select(q => Measurement(q.Name, samples[q.Name])).ToList(), Measurement("control", control));
    }

    /// <summary>The probe query as <see cref="RlsProbe.Role"/> and as the connected owner, alternately, <paramref name="runs"/> pairs.
    /// Never drops or disables a policy to measure.</summary>
    public async Task<RlsOverhead> RlsOverheadAsync(RlsProbe probe, object[] parameters, int runs, CancellationToken cancellationToken)
    {
        object user;
        await using (var pick = new NpgsqlCommand(probe.User, connection))
        {
            Counted();
            user = await pick.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException("the RLS probe's 'user' query returned no row");
        }

        var asOwner = new List<PlanSample>();
        var asRole = new List<PlanSample>();
        var control = new List<PlanSample>();
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        _inTransaction = true;
        await using (var set = new NpgsqlCommand(probe.SetUser, connection))
        {
            set.Parameters.Add(new NpgsqlParameter { Value = user.ToString() });
            await set.ExecuteNonQueryAsync(cancellationToken);
        }
        for (var i = 0; i < runs; i++)
        {
            asOwner.Add(await SampleAsync(probe.Sql, parameters, cancellationToken));
            await ExecAsync($"SET LOCAL ROLE {DatabaseAdmin.Quote(probe.Role)}", cancellationToken);
            asRole.Add(await SampleAsync(probe.Sql, parameters, cancellationToken));
            await ExecAsync("RESET ROLE", cancellationToken);
            control.Add(await SampleAsync(ControlSql, [], cancellationToken));
        }
        // Commit, not roll back: the probe wrote nothing, and a rollback would count as an application failure in pg_stat_database.
        await tx.CommitAsync(cancellationToken);
        _inTransaction = false;
        Counted();
        var paired = Stats.Median(asRole.Zip(asOwner, (r, o) => r.TimeMs - o.TimeMs));
        return new RlsOverhead(Measurement("as role", asRole), Measurement("as owner", asOwner), Measurement("control", control), paired);
    }

    /// <summary>EXPLAINs each analytics query and counts those whose plan reads an index.</summary>
    public async Task<IndexUsage> IndexUsageAsync(IReadOnlyList<string> queries, object[] parameters, CancellationToken cancellationToken)
    {
        var without = new List<string>();
        foreach (var sql in queries)
        {
            using var plan = await ExplainAsync(sql, parameters, analyze: false, cancellationToken);
            if (!UsesIndex(plan.RootElement[0].GetProperty("Plan")))
                without.Add(sql);
        }
        return new IndexUsage(queries.Count, queries.Count - without.Count, without);
    }

    /// <summary>The table that keeps the rows at baseline of the run recorded as <paramref name="historyId"/> in <c>chatops.migration_history</c>.</summary>
    public static string RowsAtBaselineTable(long historyId) => $"chatops.rows_at_baseline_{historyId}";

    /// <summary>True when <paramref name="table"/> names such a table (a name read from a checkpoint goes into SQL only then).</summary>
    public static bool IsRowsAtBaselineTable(string table) => System.Text.RegularExpressions.Regex.IsMatch(table, @"^chatops\.rows_at_baseline_[0-9]+$");

    /// <summary>
    /// Keeps the rows <paramref name="sql"/> lists (their keys) as one snapshot sees them now, in <paramref name="table"/> in the
    /// target's <c>chatops</c> schema — a real table, so that a run resumed by another process compares against the same rows
    /// (a temporary table would die with this session). No snapshot stays open (a concurrent index build would wait for it).
    /// Returns the table with the rows' count and checksum.
    /// </summary>
    public async Task<KeptRows> KeepRowsAtBaselineAsync(string sql, string table, CancellationToken cancellationToken)
    {
        await ExecAsync($"DROP TABLE IF EXISTS {table}", cancellationToken);
        await using (var keep = new NpgsqlCommand($"CREATE TABLE {table} AS {sql}", connection) { CommandTimeout = 0 })
            await keep.ExecuteNonQueryAsync(cancellationToken);
        Counted();
        await ExecAsync($"COMMENT ON TABLE {table} IS 'ChatOps: the rows that existed at a runbook run''s baseline (dropped at its verdict)'", cancellationToken);
        return await KeptRowsAsync(table, cancellationToken)
               ?? throw new InvalidOperationException($"{table} vanished right after it was created");
    }

    /// <summary>The kept rows' count and checksum now, or null when <paramref name="table"/> does not exist.</summary>
    public async Task<KeptRows?> KeptRowsAsync(string table, CancellationToken cancellationToken)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = table });
            Counted();
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
                return null;
        }
        // A sum of the rows' hashes: independent of order, and a multiset like EXCEPT ALL (a duplicated key counts twice).
        await using var command = new NpgsqlCommand($"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {table} t", connection) { CommandTimeout = 0 };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        Counted();
        return new KeptRows(table, reader.GetInt64(0), reader.GetString(1));
    }

    /// <summary>How many of the rows kept at baseline in <paramref name="table"/> <paramref name="sql"/> no longer lists.</summary>
    public async Task<long> RowsGoneSinceBaselineAsync(string sql, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM (TABLE {table} EXCEPT ALL ({sql})) gone", connection) { CommandTimeout = 0 };
        var gone = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        Counted();
        return gone;
    }

    /// <summary>The parameters as the server writes them (their type's name and their text), to be kept in a checkpoint.</summary>
    public async Task<IReadOnlyList<RunbookParameter>> SaveParametersAsync(object[] values, CancellationToken cancellationToken)
    {
        if (values.Length == 0)
            return [];
        await using var command = new NpgsqlCommand(
            $"SELECT {string.Join(", ", values.Select((_, i) => $"pg_typeof(${i + 1})::text, ${i + 1}::text"))}", connection);
        foreach (var value in values)
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        Counted();
        return values.Select((_, i) => new RunbookParameter(reader.GetString(2 * i), reader.IsDBNull(2 * i + 1) ? null : reader.GetString(2 * i + 1))).ToList();
    }

    /// <summary>The parameters a checkpoint kept, as values of their types again (the server converts their text back).</summary>
    public async Task<object[]> RestoreParametersAsync(IReadOnlyList<RunbookParameter> saved, CancellationToken cancellationToken)
    {
        if (saved.Count == 0)
            return [];
        var types = new List<string>();
        foreach (var p in saved)
        {
            // The type's name comes from stored JSON: only the server's own spelling of an existing type goes into the SQL.
            await using var lookup = new NpgsqlCommand("SELECT to_regtype($1)::text", connection);
            lookup.Parameters.Add(new NpgsqlParameter { Value = p.Type });
            Counted();
            types.Add(await lookup.ExecuteScalarAsync(cancellationToken) as string
                      ?? throw new InvalidOperationException($"the checkpoint's benchmark parameter type {p.Type} does not exist on the target"));
        }
        await using var command = new NpgsqlCommand($"SELECT {string.Join(", ", types.Select((t, i) => $"${i + 1}::text::{t}"))}", connection);
        foreach (var p in saved)
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)p.Text ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        Counted();
        var values = new object[reader.FieldCount];
        reader.GetValues(values);
        return values;
    }

    private static bool UsesIndex(JsonElement node)
    {
        var type = node.GetProperty("Node Type").GetString() ?? "";
        if (type.Contains("Index", StringComparison.Ordinal))
            return true;
        return node.TryGetProperty("Plans", out var children) && children.EnumerateArray().Any(UsesIndex);
    }

    /// <summary>One EXPLAIN (ANALYZE, BUFFERS) run: the server's execution time, the buffers the plan touched and its shape.</summary>
    private sealed record PlanSample(double TimeMs, long Buffers, string Plan, IReadOnlyList<string> AccessPaths);

    private async Task<PlanSample> SampleAsync(string sql, object[] parameters, CancellationToken cancellationToken)
    {
        using var explain = await ExplainAsync(sql, parameters, analyze: true, cancellationToken);
        var root = explain.RootElement[0];
        var plan = root.GetProperty("Plan");
        var paths = new List<string>();
        return new PlanSample(root.GetProperty("Execution Time").GetDouble(), Blocks(plan, "Shared Hit Blocks") + Blocks(plan, "Shared Read Blocks"),
            Shape(plan, paths), paths);
    }

    private static QueryMeasurement Measurement(string name, List<PlanSample> samples)
    {
        // The plan most runs used (a plan can flip once when a statistic lands between runs).
        var plan = samples.GroupBy(s => s.Plan).OrderByDescending(g => g.Count()).First().First();
        return new QueryMeasurement(name, samples.Select(s => s.TimeMs).ToList(), (long)Stats.Median(samples.Select(s => (double)s.Buffers)), plan.Plan, plan.AccessPaths);
    }

    private static long Blocks(JsonElement node, string property) => node.TryGetProperty(property, out var v) ? v.GetInt64() : 0;

    /// <summary>The plan tree's node types with the relations and indexes they read: equal shapes do the same kind of work.</summary>
    private static string Shape(JsonElement node, List<string> accessPaths)
    {
        var type = node.GetProperty("Node Type").GetString() ?? "?";
        var relation = node.TryGetProperty("Relation Name", out var r) ? r.GetString() : null;
        var index = node.TryGetProperty("Index Name", out var i) ? i.GetString() : null;
        if (relation is not null || index is not null)
            accessPaths.Add(index is null ? $"{type} on {relation}" : relation is null ? $"{type} on {index}" : $"{type} using {index} on {relation}");
        var children = node.TryGetProperty("Plans", out var plans) ? string.Join(",", plans.EnumerateArray().Select(p => Shape(p, accessPaths))) : "";
        return $"{type}[{relation}/{index}]({children})";
    }

    private async Task<JsonDocument> ExplainAsync(string sql, object[] parameters, bool analyze, CancellationToken cancellationToken)
    {
        var options = analyze ? "ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON" : "FORMAT JSON";
        await using var command = new NpgsqlCommand($"EXPLAIN ({options}) {sql}", connection);
        foreach (var p in parameters.Take(CountParameters(sql)))
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        var json = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        Counted();
        return JsonDocument.Parse(json);
    }

    private async Task ExecAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        Counted();
    }

    /// <summary>The highest <c>$n</c> a query uses: PostgreSQL refuses parameters a statement does not reference.</summary>
    private static int CountParameters(string sql) =>
        Core.Scripts.SqlLexer.Tokenize(sql).Where(t => t.Kind == Core.Scripts.SqlTokenKind.Parameter)
            .Select(t => int.Parse(t.Value[1..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
}
