using System.Text;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// The server-truth test: for every statement form of <see cref="LockTruthCorpus"/>, the locks, rewrite and
/// transaction-block claims of <see cref="StatementAnalyzer"/> against what PostgreSQL does.
///
/// In a transaction: <c>BEGIN</c>, the statement, then the session's granted relation locks from <c>pg_locks</c>
/// and every relation's filenode, then <c>ROLLBACK</c>. A statement that cannot run in a transaction block runs in
/// autocommit behind a blocking session and is read from outside while it waits (<see cref="LockCase.NoTx"/>).
///
/// Compared: for every relation that existed before the statement — tables, views, sequences and indexes alike — the
/// strongest mode the server held (or waited for) against the analyzer's claim (<see cref="StatementAnalysis.Locks"/>
/// and <see cref="StatementAnalysis.IndexLocks"/>; none when it does not name it), and every relation the analyzer
/// names. In autocommit only the phase before the wait is seen: an index the analyzer claims that the server has not
/// locked yet is noted, not a disagreement. Relations the statement creates are not compared.
/// A table "rewritten" is one whose filenode changed and still holds data (TRUNCATE's new empty file and a dropped
/// table are not rewrites); rebuilt indexes are notes.
/// Scans (<c>pg_stat_get_xact_numscans</c>, in a transaction): a table the session scanned while the server held a lock
/// on it that blocks writes, and that it neither rewrote, emptied nor dropped, must be claimed
/// (<see cref="StatementAnalysis.ScansUnderLock"/>); a claimed scan must show a scan of a table the analyzer locks.
/// </summary>
public class LockTruthTests(LockTruthDatabase db, ITestOutputHelper output) : IClassFixture<LockTruthDatabase>
{
    [Fact]
    public async Task The_analyzer_claims_the_locks_rewrites_and_transaction_blocks_the_server_takes()
    {
        var results = await db.ResultsAsync();
        output.WriteLine(LockTruthReport.Markdown(results, await db.ServerVersionAsync()));

        var failures = results.Where(r => r.HarnessError is not null).Select(r => $"{r.Case.Id}: HARNESS: {r.HarnessError}")
            .Concat(results.Where(r => r.Disagreements.Count > 0).Select(r => $"{r.Case.Id}: {string.Join("; ", r.Disagreements)}"))
            .ToList();
        if (failures.Count > 0)
            Assert.Fail($"{results.Count(r => !r.Agrees)} of {results.Count} statement forms disagree with PostgreSQL:\n" + string.Join('\n', failures));
    }

    /// <summary>Rewrites <c>lock-truth.md</c> beside this file (set <c>CHATOPS_LOCK_TRUTH_REPORT=1</c>).</summary>
    [LockTruthReportFact]
    public async Task Writes_the_lock_truth_report()
    {
        var results = await db.ResultsAsync();
        var path = ProductFiles.Resolve(Path.Combine("tests", "ChatOps.Postgres.Tests", "lock-truth.md"));
        await File.WriteAllTextAsync(path, LockTruthReport.Markdown(results, await db.ServerVersionAsync()));
        output.WriteLine($"wrote {path}");
    }
}

/// <summary>A fact that runs only when <c>CHATOPS_LOCK_TRUTH_REPORT</c> is set: it rewrites a file in the source tree.</summary>
public sealed class LockTruthReportFactAttribute : FactAttribute
{
    public LockTruthReportFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CHATOPS_LOCK_TRUTH_REPORT")))
            Skip = "set CHATOPS_LOCK_TRUTH_REPORT=1 to rewrite tests/ChatOps.Postgres.Tests/lock-truth.md";
    }
}

/// <summary>An empty database for the corpus; the corpus runs once, whichever fact asks first.</summary>
public sealed class LockTruthDatabase : PostgresDatabase
{
    private Task<IReadOnlyList<LockTruthResult>>? _results;

    protected override bool WithDemoData => false;

    public Task<IReadOnlyList<LockTruthResult>> ResultsAsync() =>
        _results ??= new LockTruthHarness(ConnectionString).RunAsync(LockTruthCorpus.Cases);

    public Task<string> ServerVersionAsync() => ScalarAsync<string>("SHOW server_version");
}

/// <summary>A relation as it was before the statement.</summary>
public sealed record LockTruthRelation(uint Oid, string Schema, string Name, char Kind, uint? FileNode);

/// <summary>The strongest mode the server held on a relation (<paramref name="Awaited"/>: requested, not yet granted).</summary>
public sealed record ServerLock(LockTruthRelation Relation, LockMode Mode, bool Awaited);

/// <summary>One case: what the server did, what the analyzer claimed, and where they differ.</summary>
public sealed record LockTruthResult(
    LockCase Case,
    IReadOnlyList<ServerLock> ServerLocks,
    IReadOnlyList<TableLock> AnalyzerLocks,
    IReadOnlyList<string> Rewritten,
    bool AnalyzerRewrites,
    bool? ServerInTransaction,
    bool AnalyzerInTransaction,
    IReadOnlyList<string> Notes,
    bool AnalyzerScans,
    IReadOnlyList<string> Disagreements,
    string? HarnessError)
{
    public bool Agrees => HarnessError is null && Disagreements.Count == 0;
}

/// <summary>Runs the corpus against a database, one case at a time.</summary>
public sealed class LockTruthHarness(string connectionString)
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);
    private readonly string _connectionString =
        new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "lock-truth", CommandTimeout = 120 }.ConnectionString;

    public async Task<IReadOnlyList<LockTruthResult>> RunAsync(IReadOnlyList<LockCase> cases)
    {
        var duplicate = cases.GroupBy(c => c.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException($"corpus: id {duplicate.Key} is used twice");
        var results = new List<LockTruthResult>();
        foreach (var c in cases)
            results.Add(await RunCaseAsync(c));
        return results;
    }

    private async Task<LockTruthResult> RunCaseAsync(LockCase c)
    {
        try
        {
            return await CompareAsync(c);
        }
        catch (Exception e)   // a broken case (or harness) is reported with the others, not instead of them
        {
            return new LockTruthResult(c, [], [], [], false, null, true, [], false, [], $"{e.GetType().Name}: {e.Message}");
        }
    }

    private async Task<LockTruthResult> CompareAsync(LockCase c)
    {
        var script = SqlScript.Parse(c.Sql);
        var analyses = StatementAnalyzer.AnalyzeScript(script);
        var claims = Claims(analyses);
        var analyzerRewrites = analyses.Any(a => a.Rewrites);
        var analyzerScans = analyses.Any(a => a.ScansUnderLock);
        var analyzerInTx = analyses.All(a => a.CanRunInTransaction);
        var statements = script.Statements.Where(s => s.Transaction == TransactionControl.None).ToList();

        LockTruthResult Broken(string error) =>
            new(c, [], claims, [], analyzerRewrites, null, analyzerInTx, [], analyzerScans, [], error);

        await using var a = await OpenAsync(c.Schema);
        try
        {
            await ExecuteAsync(a, $"CREATE SCHEMA {c.Schema}");
            foreach (var s in SqlScript.Parse(c.Setup).Statements)
                await ExecuteAsync(a, s.Text);
        }
        catch (PostgresException e)
        {
            return Broken($"setup failed: {e.MessageText}");
        }

        // The analyzer as plan --target and the executor use it: with the catalog's facts (foreign keys, column types …).
        analyses = StatementAnalyzer.AnalyzeScript(script, await CatalogFactsReader.ReadAsync(a, CancellationToken.None));
        claims = Claims(analyses);
        analyzerRewrites = analyses.Any(x => x.Rewrites);
        analyzerScans = analyses.Any(x => x.ScansUnderLock);
        analyzerInTx = analyses.All(x => x.CanRunInTransaction);

        var before = await RelationsAsync(a);
        var resolved = new List<(TableLock Claim, uint? Oid)>();
        foreach (var claim in claims)
            resolved.Add((claim, await ScalarAsync<uint?>(a, "SELECT to_regclass($1)::oid", claim.Table.ToString())));

        IReadOnlyList<(uint Oid, LockMode Mode, bool Granted)> held;
        IReadOnlyDictionary<uint, (long? Size, long? Scans)> after;
        IReadOnlyDictionary<uint, (long? Size, long? Scans)>? scansBefore = null;
        Dictionary<uint, LockTruthRelation> now;
        bool serverInTx;
        var notes = new List<string>();

        if (c.InTransaction)
        {
            await using var tx = await a.BeginTransactionAsync();
            scansBefore = await StatsAsync(a, before.Keys, withSize: false);   // pg_relation_size would lock every relation
            try
            {
                foreach (var s in statements)
                    await ExecuteAsync(a, s.Text);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ActiveSqlTransaction)
            {
                return Broken($"the server refuses it in a transaction block ({e.MessageText}): give the case a NoTx blocker");
            }
            catch (PostgresException e)
            {
                return Broken($"failed: {e.MessageText}");
            }
            serverInTx = true;
            held = await LocksAsync(a, a.ProcessID);
            after = await StatsAsync(a, before.Keys, withSize: true);
            now = await RelationsAsync(a);
            await tx.RollbackAsync();
        }
        else
        {
            // The server must refuse it in a transaction block, or the case belongs in a transaction.
            await using (var tx = await a.BeginTransactionAsync())
            {
                try
                {
                    foreach (var s in statements)
                        await ExecuteAsync(a, s.Text);
                    return Broken("the server runs it in a transaction block: drop the case's NoTx");
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ActiveSqlTransaction)
                {
                    serverInTx = false;
                }
                catch (PostgresException e)
                {
                    return Broken($"failed in a transaction block: {e.MessageText}");
                }
            }

            await using var blocker = await OpenAsync(c.Schema);
            await using var blockerTx = await blocker.BeginTransactionAsync();
            await ExecuteAsync(blocker, c.NoTx!);
            await using var observer = await OpenAsync(c.Schema);

            var run = Task.Run(async () =>
            {
                foreach (var s in statements)
                    await ExecuteAsync(a, s.Text);
            });
            var waited = Task.Run(async () =>
            {
                var started = DateTime.UtcNow;
                while (!run.IsCompleted && DateTime.UtcNow - started < WaitLimit)
                {
                    // Waiting for the blocker itself (not, say, for an autovacuum worker on the same table).
                    if (await ScalarAsync<bool>(observer, $"SELECT {blocker.ProcessID} = ANY(pg_blocking_pids($1))", a.ProcessID))
                        return true;
                    await Task.Delay(20);
                }
                return false;
            });
            var sawWait = await waited;
            held = sawWait ? await LocksAsync(observer, a.ProcessID) : [];
            await blockerTx.RollbackAsync();
            try
            {
                await run.WaitAsync(WaitLimit);
            }
            catch (PostgresException e)
            {
                return Broken($"failed in autocommit: {e.MessageText}");
            }
            if (!sawWait)
                return Broken($"never waited for the blocker ({c.NoTx}): its locks could not be read");
            after = await StatsAsync(observer, before.Keys, withSize: true);
            now = await RelationsAsync(observer);
            notes.Add("autocommit: locks read from outside while it waited for the blocker");
        }

        // The server's strongest mode per relation that existed before (relations it created are nobody's business yet).
        var serverLocks = held
            .Where(h => before.ContainsKey(h.Oid))
            .GroupBy(h => h.Oid)
            .Select(g =>
            {
                var strongest = g.MaxBy(h => h.Mode);
                return new ServerLock(before[g.Key], strongest.Mode, !strongest.Granted);
            })
            .OrderBy(l => IsIndex(l.Relation.Kind)).ThenBy(l => Display(l.Relation, c))
            .ToList();

        // Files: a table with a new file that holds data was rewritten; an index dropped and created again under its
        // name (ALTER COLUMN TYPE does that) counts as rebuilt only when its file changed.
        var rewritten = new List<string>();
        // Tables whose file the statement replaced or removed: a scan counted on them is the rewrite's or the new file's.
        var newFiles = new HashSet<uint>();
        foreach (var r in before.Values.Where(r => r.FileNode is not null).OrderBy(r => Display(r, c)))
        {
            var name = Display(r, c);
            var successor = now.GetValueOrDefault(r.Oid) ?? now.Values.FirstOrDefault(n => n.Schema == r.Schema && n.Name == r.Name && n.Kind == r.Kind);
            if (successor is null) { notes.Add($"dropped {name}"); newFiles.Add(r.Oid); }
            else if (successor.FileNode == r.FileNode) continue;
            else if (IsIndex(r.Kind)) notes.Add($"rebuilt {name}");
            else if (r.Kind is not ('r' or 'm')) notes.Add($"new file for {name}");
            else if (successor.Oid == r.Oid && after[r.Oid].Size is 0) { notes.Add($"emptied {name}"); newFiles.Add(r.Oid); }
            else { rewritten.Add(name); newFiles.Add(r.Oid); }
        }
        var scanned = scansBefore is null ? [] : before.Values
            .Where(r => r.Kind is 'r' or 'm' && after.TryGetValue(r.Oid, out var a) && a.Scans > (scansBefore[r.Oid].Scans ?? 0))
            .OrderBy(r => Display(r, c)).ToList();
        if (scanned.Count > 0) notes.Add($"scanned {string.Join(", ", scanned.Select(r => Display(r, c)))}");
        if (analyzerScans) notes.Add("analyzer: scans under its lock");

        var disagreements = new List<string>();
        var compared = serverLocks.Select(l => l.Relation.Oid)
            .Union(resolved.Where(r => r.Oid is not null).Select(r => r.Oid!.Value));
        foreach (var oid in compared)
        {
            var server = serverLocks.FirstOrDefault(l => l.Relation.Oid == oid)?.Mode ?? LockMode.None;
            var claimed = resolved.Where(r => r.Oid == oid).Select(r => r.Claim.Mode).DefaultIfEmpty(LockMode.None).Max();
            if (server == claimed)
                continue;
            if (!c.InTransaction && server == LockMode.None && before.TryGetValue(oid, out var later) && IsIndex(later.Kind))
                notes.Add($"{Display(later, c)}: not reached before the wait (analyzer {claimed})");
            else
                disagreements.Add($"{Display(before[oid], c)}: server {server}, analyzer {claimed}");
        }

        // Scans: judged in a transaction only (autocommit reads the counters of another session).
        if (scansBefore is not null)
        {
            var underLock = scanned.Where(r => !newFiles.Contains(r.Oid)
                && serverLocks.FirstOrDefault(l => l.Relation.Oid == r.Oid)?.Mode.BlocksWrites() == true).ToList();
            if (underLock.Count > 0 && !analyzerScans)
                disagreements.Add($"server scanned {string.Join(", ", underLock.Select(r => Display(r, c)))} under a lock that blocks writes, analyzer claims no scan");
            var claimedScanned = scanned.Where(r => resolved.Any(x => x.Oid == r.Oid)).ToList();
            if (analyzerScans && claimedScanned.Count == 0)
                disagreements.Add("analyzer claims a scan under its lock, server scanned none of the tables it locks");
        }
        foreach (var (claim, _) in resolved.Where(r => r.Oid is null))
            disagreements.Add($"analyzer locks {claim.Table}, which did not exist");
        if (rewritten.Count > 0 != analyzerRewrites)
            disagreements.Add(rewritten.Count > 0 ? $"server rewrote {string.Join(", ", rewritten)}, analyzer says no rewrite" : "analyzer says it rewrites, server did not");
        if (serverInTx != analyzerInTx)
            disagreements.Add(serverInTx ? "runs in a transaction block, analyzer says it cannot" : "cannot run in a transaction block, analyzer says it can");

        return new LockTruthResult(c, serverLocks, claims, rewritten, analyzerRewrites, serverInTx, analyzerInTx, notes, analyzerScans, disagreements, null);
    }

    private static bool IsIndex(char kind) => kind is 'i' or 'I';

    // Every relation the script's statements lock, tables and indexes alike, at its strongest.
    private static List<TableLock> Claims(IReadOnlyList<StatementAnalysis> analyses) =>
        analyses.SelectMany(a => a.Locks.Concat(a.IndexLocks)).GroupBy(l => l.Table).Select(g => new TableLock(g.Key, g.Max(l => l.Mode))).ToList();

    /// <summary>The relation's name, schema-qualified only outside the case's own schema.</summary>
    public static string Display(LockTruthRelation r, LockCase c) => r.Schema == c.Schema ? r.Name : $"{r.Schema}.{r.Name}";

    private async Task<NpgsqlConnection> OpenAsync(string schema)
    {
        var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, $"SET search_path = {schema}");
        return connection;
    }

    private static async Task<Dictionary<uint, LockTruthRelation>> RelationsAsync(NpgsqlConnection connection)
    {
        const string sql = """
            SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, pg_relation_filenode(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
            """;
        var relations = new Dictionary<uint, LockTruthRelation>();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            relations[reader.GetFieldValue<uint>(0)] = new LockTruthRelation(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2),
                reader.GetString(3)[0], reader.IsDBNull(4) ? null : reader.GetFieldValue<uint>(4));
        return relations;
    }

    private static async Task<List<(uint Oid, LockMode Mode, bool Granted)>> LocksAsync(NpgsqlConnection connection, int pid)
    {
        const string sql = """
            SELECT relation, mode, granted FROM pg_locks
            WHERE pid = $1 AND locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """;
        var locks = new List<(uint, LockMode, bool)>();
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = pid } } };
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var mode = reader.GetString(1);
            if (Enum.TryParse<LockMode>(mode.EndsWith("Lock", StringComparison.Ordinal) ? mode[..^4] : mode, out var parsed))
                locks.Add((reader.GetFieldValue<uint>(0), parsed, reader.GetBoolean(2)));
        }
        return locks;
    }

    // Size (which takes ACCESS SHARE on the relation) and this backend's scans not yet flushed to the shared statistics.
    private static async Task<Dictionary<uint, (long? Size, long? Scans)>> StatsAsync(NpgsqlConnection connection, IEnumerable<uint> oids, bool withSize)
    {
        var sql = $"SELECT r.oid, {(withSize ? "pg_relation_size(r.oid)" : "NULL::bigint")}, pg_stat_get_xact_numscans(r.oid) FROM unnest($1::oid[]) AS r(oid)";
        var stats = new Dictionary<uint, (long?, long?)>();
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = oids.ToArray(), DataTypeName = "oid[]" } } };
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            stats[reader.GetFieldValue<uint>(0)] = (reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
        return stats;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, object parameter)
    {
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = parameter } } };
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)value;
    }
}

/// <summary>The results as one Markdown table (printed by the test, written to <c>lock-truth.md</c>).</summary>
public static class LockTruthReport
{
    public static string Markdown(IReadOnlyList<LockTruthResult> results, string serverVersion)
    {
        var md = new StringBuilder();
        md.AppendLine("# Lock truth: the statement analyzer against PostgreSQL " + serverVersion);
        md.AppendLine();
        md.AppendLine("Written by `LockTruthTests` (`CHATOPS_LOCK_TRUTH_REPORT=1 dotnet test tests/ChatOps.Postgres.Tests --filter FullyQualifiedName~LockTruth`);");
        md.AppendLine("each case runs in its own schema, the statement inside `BEGIN … ROLLBACK` (or, when it cannot run in a transaction block,");
        md.AppendLine("in autocommit behind a blocking session, its locks read from outside while it waits: later phases are not seen).");
        md.AppendLine();
        md.AppendLine("- **server locks**: the strongest mode per relation that existed before the statement; `(i)` index, `(S)` sequence,");
        md.AppendLine("  `(v)` view, `(m)` materialized view; `(awaited)` requested and being waited for. Every relation is compared, indexes too");
        md.AppendLine("  (in autocommit an index the server has not reached before the wait is noted instead).");
        md.AppendLine("- **analyzer claims**: `StatementAnalysis.Locks` and `IndexLocks` (a script's statements combined, strongest per relation).");
        md.AppendLine("  Index rule: a rewrite, TRUNCATE, DROP TABLE, OWNER TO and REINDEX take ACCESS EXCLUSIVE on each index of the table; a type");
        md.AppendLine("  change without rewrite on the indexes using the column; UPDATE/DELETE ROW EXCLUSIVE; a planned query (a foreign key's");
        md.AppendLine("  validation, ANALYZE, a materialized view) ACCESS SHARE; an INSERT's foreign-key check ROW SHARE on the referenced key's index.");
        md.AppendLine("- **rewrite**: the server gave a table a new file that holds data (TRUNCATE's empty file is \"emptied\", not a rewrite).");
        md.AppendLine("- **scans** (compared in a transaction): `scanned` lists the tables this session scanned sequentially (`pg_stat_get_xact_numscans`:");
        md.AppendLine("  index builds, validations, rewrites and plain DML scans alike). A table scanned while the server held a lock on it that blocks");
        md.AppendLine("  writes, and that was not rewritten, emptied or dropped, must be claimed by `ScansUnderLock`; a claimed scan must show a scan");
        md.AppendLine("  of a table the analyzer locks. Scans under weaker locks (VALIDATE, plain DML) are shown only.");
        md.AppendLine("- **notes**: indexes rebuilt, relations dropped, the scans, and `analyzer: scans under its lock` for `ScansUnderLock`.");
        md.AppendLine();
        md.AppendLine($"**{results.Count(r => r.Agrees)} of {results.Count} agree.**");
        md.AppendLine();
        md.AppendLine("| id | statement | server locks | analyzer claims | rewrite: server | rewrite: analyzer | in a transaction block: server / analyzer | notes | agree |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            var server = string.Join(", ", r.ServerLocks.Select(l =>
                $"{LockTruthHarness.Display(l.Relation, r.Case)}{(l.Relation.Kind is 'r' or 'p' ? "" : $"({l.Relation.Kind})")} {l.Mode}{(l.Awaited ? " (awaited)" : "")}"));
            var analyzer = string.Join(", ", r.AnalyzerLocks.Select(l => $"{l.Table} {l.Mode}"));
            var agree = r.HarnessError is not null ? $"HARNESS: {r.HarnessError}" : r.Agrees ? "yes" : "**NO**: " + string.Join("; ", r.Disagreements);
            string Cell(string s) => s.Length == 0 ? "—" : s.Replace("|", "\\|").Replace("\n", " ");
            string Tx(bool? b) => b switch { true => "yes", false => "no", null => "?" };
            md.AppendLine($"| {r.Case.Id} | `{Cell(Flat(r.Case.Sql))}` | {Cell(server)} | {Cell(analyzer)} | {(r.Rewritten.Count > 0 ? "yes: " + string.Join(", ", r.Rewritten) : "no")} | " +
                $"{(r.AnalyzerRewrites ? "yes" : "no")} | {Tx(r.ServerInTransaction)} / {Tx(r.AnalyzerInTransaction)} | {Cell(string.Join("; ", r.Notes))} | {agree} |");
        }
        return md.ToString();
    }

    private static string Flat(string sql) => string.Join(' ', sql.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
}
