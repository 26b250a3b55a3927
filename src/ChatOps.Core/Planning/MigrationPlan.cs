using ChatOps.Core.Scripts;

namespace ChatOps.Core.Planning;

/// <summary>A table the plan names, with its size on the target.</summary>
public sealed record TableFact(DbObjectName Table, TableSize Size);

/// <summary>Everything the SQL alone says about a migration: per statement, what it locks, whether it
/// rewrites, whether it can run in a transaction, and what to worry about.</summary>
public sealed record MigrationPlan(string Migration, string Sha256, IReadOnlyList<StatementAnalysis> Statements)
{
    /// <param name="facts">The target's catalog, when known (<c>plan --target</c>, the executor): names the locks the SQL alone cannot.</param>
    /// <param name="strict">Also the style rules, as notes.</param>
    public static MigrationPlan For(string migration, string sha256, SqlScript script, CatalogFacts? facts = null, bool strict = false) =>
        new(migration, sha256, StatementAnalyzer.AnalyzeScript(script, facts, strict))
        {
            Tables = (facts?.TableSizes ?? new Dictionary<DbObjectName, TableSize>())
                .Select(t => new TableFact(facts!.AsWritten(t.Key), t.Value)).OrderBy(t => t.Table.ToString(), StringComparer.Ordinal).ToList(),
        };

    /// <summary>The sizes of the tables it names, as the target's catalog shows them (<c>plan --target</c>; empty otherwise).</summary>
    public IReadOnlyList<TableFact> Tables { get; init; } = [];

    public IEnumerable<(StatementAnalysis Statement, PlanWarning Warning)> Warnings =>
        Statements.SelectMany(s => s.Warnings.Select(w => (s, w)));

    /// <summary>
    /// Whether any statement can remove rows from <paramref name="table"/> (or from any table, when null): DELETE (also in a
    /// WITH), TRUNCATE or DROP TABLE on it, or a DO block on it whose body says DELETE or TRUNCATE. When none can, rows that
    /// disappear during the run were deleted by the application, not lost by the migration.
    /// </summary>
    public bool CanRemoveRowsFrom(DbObjectName? table) =>
        Statements.Any(s => (table is null || s.OwnLocks.Any(l => SameTable(l.Table, table))) && (
            s.Kind is "DELETE" or "TRUNCATE" or "DROP TABLE"
            || s.Kind.StartsWith("WITH ", StringComparison.Ordinal) && s.Kind.Contains("DELETE", StringComparison.Ordinal)
            || s.Kind == "DO block" && (s.Statement.Text.Contains("DELETE", StringComparison.OrdinalIgnoreCase)
                                        || s.Statement.Text.Contains("TRUNCATE", StringComparison.OrdinalIgnoreCase))));

    // An unqualified name in the script is the same table as public.x (the usual search_path).
    private static bool SameTable(DbObjectName a, DbObjectName b) =>
        a.Name == b.Name && (a.Schema ?? "public") == (b.Schema ?? "public");

    /// <summary>The longest-held strongest lock in the plan, for the summary line.</summary>
    public LockMode StrongestLock => Statements.Count == 0 ? LockMode.None : Statements.Max(s => s.StrongestLock);
}
