using ChatOps.Core.Scripts;

namespace ChatOps.Core.Planning;

/// <summary>Everything the SQL alone says about a migration: per statement, what it locks, whether it
/// rewrites, whether it can run in a transaction, and what to worry about.</summary>
public sealed record MigrationPlan(string Migration, string Sha256, IReadOnlyList<StatementAnalysis> Statements)
{
    public static MigrationPlan For(string migration, string sha256, SqlScript script) =>
        new(migration, sha256, StatementAnalyzer.AnalyzeScript(script));

    public IEnumerable<(StatementAnalysis Statement, PlanWarning Warning)> Warnings =>
        Statements.SelectMany(s => s.Warnings.Select(w => (s, w)));

    /// <summary>The longest-held strongest lock in the plan, for the summary line.</summary>
    public LockMode StrongestLock => Statements.Count == 0 ? LockMode.None : Statements.Max(s => s.StrongestLock);
}
