namespace ChatOps.Core.Planning;

/// <summary>PostgreSQL's table lock modes, weakest first (the order of the documentation's conflict table).</summary>
public enum LockMode
{
    None = 0,
    AccessShare = 1,
    RowShare = 2,
    RowExclusive = 3,
    ShareUpdateExclusive = 4,
    Share = 5,
    ShareRowExclusive = 6,
    Exclusive = 7,
    AccessExclusive = 8,
}

/// <summary>What a lock mode conflicts with, and what that means for the application.</summary>
public static class LockModes
{
    // Conflicts, from the PostgreSQL documentation's "Conflicting Lock Modes" table.
    private static readonly LockMode[][] ConflictTable =
    [
        [],
        [LockMode.AccessExclusive],
        [LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.Share, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.ShareUpdateExclusive, LockMode.Share, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.RowExclusive, LockMode.ShareUpdateExclusive, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.RowExclusive, LockMode.ShareUpdateExclusive, LockMode.Share, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.RowShare, LockMode.RowExclusive, LockMode.ShareUpdateExclusive, LockMode.Share, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
        [LockMode.AccessShare, LockMode.RowShare, LockMode.RowExclusive, LockMode.ShareUpdateExclusive, LockMode.Share, LockMode.ShareRowExclusive, LockMode.Exclusive, LockMode.AccessExclusive],
    ];

    /// <summary>The modes that conflict with <paramref name="mode"/>.</summary>
    public static IReadOnlyList<LockMode> ConflictsWith(this LockMode mode) => ConflictTable[(int)mode];

    /// <summary>The name <c>pg_locks.mode</c> uses, e.g. <c>AccessExclusiveLock</c>.</summary>
    public static string PgLocksName(this LockMode mode) => mode + "Lock";

    /// <summary>As written in SQL, e.g. <c>ACCESS EXCLUSIVE</c>.</summary>
    public static string SqlName(this LockMode mode) => mode switch
    {
        LockMode.None => "none",
        LockMode.AccessShare => "ACCESS SHARE",
        LockMode.RowShare => "ROW SHARE",
        LockMode.RowExclusive => "ROW EXCLUSIVE",
        LockMode.ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
        LockMode.Share => "SHARE",
        LockMode.ShareRowExclusive => "SHARE ROW EXCLUSIVE",
        LockMode.Exclusive => "EXCLUSIVE",
        _ => "ACCESS EXCLUSIVE",
    };

    /// <summary>What the application cannot do on the table while the lock is held (or waited for).</summary>
    public static string Blocks(this LockMode mode) => mode switch
    {
        LockMode.None => "nothing",
        LockMode.AccessShare or LockMode.RowShare => "ACCESS EXCLUSIVE DDL only",
        LockMode.RowExclusive => "DDL (SHARE and stronger)",
        LockMode.ShareUpdateExclusive => "other DDL, VACUUM, ANALYZE",
        LockMode.Share or LockMode.ShareRowExclusive => "writes, DDL",
        LockMode.Exclusive => "writes, SELECT FOR UPDATE, DDL",
        _ => "reads, writes, DDL",
    };

    /// <summary>True when the lock stops plain SELECTs.</summary>
    public static bool BlocksReads(this LockMode mode) => mode == LockMode.AccessExclusive;

    /// <summary>True when the lock stops INSERT/UPDATE/DELETE.</summary>
    public static bool BlocksWrites(this LockMode mode) => mode >= LockMode.Share;
}
