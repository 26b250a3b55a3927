using ChatOps.Core.Scripts;

namespace ChatOps.Core.Planning;

/// <summary>A table lock a statement takes.</summary>
public sealed record TableLock(DbObjectName Table, LockMode Mode);

/// <summary>How serious a plan warning is.</summary>
public enum WarningLevel
{
    /// <summary>Risky: blocks the application or loses data; review before running.</summary>
    Warning,
    /// <summary>Will fail or cannot be made safe as written.</summary>
    Error,
    /// <summary>Safe for the database, but a hazard for application code to know about (e.g. a changed row type).</summary>
    Notice,
}

/// <summary>A finding in the style of the well-known migration linters.</summary>
public sealed record PlanWarning(WarningLevel Level, string Rule, string Message);

/// <summary>What one statement does to the database, read from its SQL alone.</summary>
/// <param name="Locks">The table locks it takes (for a DO block: those its body's statements take).</param>
/// <param name="Rewrites">It rewrites the table (and its indexes) under its lock.</param>
/// <param name="ScansUnderLock">It scans the whole table while holding its lock (e.g. SET NOT NULL without a validated check).</param>
/// <param name="CanRunInTransaction">False for CONCURRENTLY and VACUUM.</param>
/// <param name="Postconditions">What the catalog shows once it has taken effect (empty when the catalog cannot tell).</param>
/// <param name="Inferred">The locks were inferred from a DO block's body (including dynamic SQL strings).</param>
/// <param name="LockUnknown">The analyzer does not know this statement's lock: it is taken as ACCESS EXCLUSIVE on every name it mentions.</param>
/// <param name="OwnLocks">The locks the statement takes itself; <see cref="Locks"/> adds, inside a transaction block, those the block already holds.</param>
public sealed record StatementAnalysis(
    SqlStatement Statement,
    string Kind,
    IReadOnlyList<TableLock> Locks,
    bool Rewrites,
    bool ScansUnderLock,
    bool CanRunInTransaction,
    IReadOnlyList<Postcondition> Postconditions,
    IReadOnlyList<PlanWarning> Warnings,
    bool Inferred = false,
    bool LockUnknown = false,
    IReadOnlyList<TableLock>? OwnLocks = null)
{
    /// <summary>
    /// The locks it takes on indexes beyond those in <see cref="Locks"/>: the indexes it names in passing (USING INDEX,
    /// CLUSTER ON), and — when the catalog lists the table's indexes — those its work implies: a rewrite, TRUNCATE, DROP
    /// TABLE or OWNER TO takes ACCESS EXCLUSIVE on each index of the table, UPDATE and DELETE ROW EXCLUSIVE, a query the
    /// server plans (a foreign key's validation, ANALYZE, a materialized view) ACCESS SHARE (checked against the server).
    /// </summary>
    public IReadOnlyList<TableLock> IndexLocks { get; init; } = [];

    /// <summary>The locks the statement takes itself (without those its transaction block already holds).</summary>
    public IReadOnlyList<TableLock> OwnLocks { get; init; } = OwnLocks ?? Locks;

    /// <summary>The tables it changes or takes a strong lock on itself (SHARE UPDATE EXCLUSIVE and up): what its role must own.</summary>
    public IReadOnlyList<DbObjectName> ChangedTables => OwnLocks.Where(l => l.Mode is LockMode.ShareUpdateExclusive or LockMode.Share or LockMode.Exclusive or LockMode.AccessExclusive)
        .Select(l => l.Table).Distinct().ToList();

    /// <summary>The strongest lock the statement takes.</summary>
    public LockMode StrongestLock => Locks.Count == 0 ? LockMode.None : Locks.Max(l => l.Mode);

    /// <summary>The tables it locks, each once.</summary>
    public IReadOnlyList<DbObjectName> Tables => Locks.Select(l => l.Table).Distinct().ToList();
}
