using System.Text.Json;
using ChatOps.Core.Runbooks;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>A query's median execution time over several runs.</summary>
public sealed record QueryTiming(string Name, double MedianMs, int Runs);

/// <summary>RLS overhead: the probe query as the application role minus the same as the table owner (who bypasses RLS).</summary>
public sealed record RlsOverhead(double AsRoleMs, double AsOwnerMs, int Runs)
{
    public double OverheadMs => Math.Max(0, AsRoleMs - AsOwnerMs);
}

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

    /// <summary>The values of the runbook's <c>parameters</c> query (its first row), for <c>$1</c>, <c>$2</c>, ….</summary>
    public async Task<object[]> ParametersAsync(MigrationRunbook runbook, CancellationToken cancellationToken)
    {
        if (runbook.Parameters is null)
            return [];
        await using var command = new NpgsqlCommand(runbook.Parameters, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            throw new InvalidOperationException("the runbook's 'parameters' query returned no row: is the table empty?");
        var values = new object[reader.FieldCount];
        reader.GetValues(values);
        return values;
    }

    /// <summary>Times each benchmark query (those marked after-only only when <paramref name="after"/>).</summary>
    public async Task<IReadOnlyList<QueryTiming>> BenchmarksAsync(MigrationRunbook runbook, object[] parameters, bool after, int runs, CancellationToken cancellationToken)
    {
        var timings = new List<QueryTiming>();
        foreach (var query in runbook.Benchmarks.Where(b => after || !b.AfterOnly))
        {
            var times = new List<double>();
            for (var i = 0; i < runs; i++)
                times.Add(await ExecutionTimeAsync(query.Sql, parameters, cancellationToken));
            timings.Add(new QueryTiming(query.Name, Median(times), runs));
        }
        return timings;
    }

    /// <summary>The probe query as <see cref="RlsProbe.Role"/> and as the connected owner, median of <paramref name="runs"/> each.
    /// Never drops or disables a policy to measure.</summary>
    public async Task<RlsOverhead> RlsOverheadAsync(RlsProbe probe, object[] parameters, int runs, CancellationToken cancellationToken)
    {
        object user;
        await using (var pick = new NpgsqlCommand(probe.User, connection))
            user = await pick.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException("the RLS probe's 'user' query returned no row");

        var asOwner = new List<double>();
        var asRole = new List<double>();
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var set = new NpgsqlCommand(probe.SetUser, connection))
        {
            set.Parameters.Add(new NpgsqlParameter { Value = user.ToString() });
            await set.ExecuteNonQueryAsync(cancellationToken);
        }
        for (var i = 0; i < runs; i++)
        {
            // Alternate, so drift (caches, load) lands on both sides alike.
            asOwner.Add(await ExecutionTimeAsync(probe.Sql, parameters, cancellationToken));
            await ExecAsync($"SET LOCAL ROLE {DatabaseAdmin.Quote(probe.Role)}", cancellationToken);
            asRole.Add(await ExecutionTimeAsync(probe.Sql, parameters, cancellationToken));
            await ExecAsync("RESET ROLE", cancellationToken);
        }
        await tx.RollbackAsync(cancellationToken);
        return new RlsOverhead(Median(asRole), Median(asOwner), runs);
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

    /// <summary>Runs <paramref name="sql"/> with <c>$1</c> = <paramref name="at"/> and returns its first row's two numbers.</summary>
    public async Task<(long Rows, long Checksum)> RowsAtAsync(string sql, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        command.Parameters.Add(new NpgsqlParameter { Value = at.UtcDateTime });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (Convert.ToInt64(reader.GetValue(0)), Convert.ToInt64(reader.GetValue(1)));
    }

    private static bool UsesIndex(JsonElement node)
    {
        var type = node.GetProperty("Node Type").GetString() ?? "";
        if (type.Contains("Index", StringComparison.Ordinal))
            return true;
        return node.TryGetProperty("Plans", out var children) && children.EnumerateArray().Any(UsesIndex);
    }

    private async Task<double> ExecutionTimeAsync(string sql, object[] parameters, CancellationToken cancellationToken)
    {
        using var plan = await ExplainAsync(sql, parameters, analyze: true, cancellationToken);
        return plan.RootElement[0].GetProperty("Execution Time").GetDouble();
    }

    private async Task<JsonDocument> ExplainAsync(string sql, object[] parameters, bool analyze, CancellationToken cancellationToken)
    {
        var options = analyze ? "ANALYZE, TIMING OFF, FORMAT JSON" : "FORMAT JSON";
        await using var command = new NpgsqlCommand($"EXPLAIN ({options}) {sql}", connection);
        foreach (var p in parameters.Take(CountParameters(sql)))
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        var json = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        return JsonDocument.Parse(json);
    }

    private async Task ExecAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The highest <c>$n</c> a query uses: PostgreSQL refuses parameters a statement does not reference.</summary>
    private static int CountParameters(string sql) =>
        Core.Scripts.SqlLexer.Tokenize(sql).Where(t => t.Kind == Core.Scripts.SqlTokenKind.Parameter)
            .Select(t => int.Parse(t.Value[1..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
