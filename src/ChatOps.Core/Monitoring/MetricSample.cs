namespace ChatOps.Core.Monitoring;

/// <summary>What one look at the target produced: a <see cref="MetricSample"/> or a <see cref="SampleGap"/>.</summary>
public abstract record MonitoringReading(DateTimeOffset At);

/// <summary>A concurrent index build as <c>pg_stat_progress_create_index</c> shows it: a percentage only
/// means something within a phase, so both are reported.</summary>
public sealed record IndexBuildProgress(string Index, string Table, string Phase, double? PercentOfPhase);

/// <summary>
/// One look at the target database (its sessions only: other databases on the server are not the application). "Application" means every session whose <c>application_name</c> does not start
/// with <c>chatops:</c>; the executor's own waits are reported apart and never count as the application's.
/// </summary>
/// <param name="Database">The database the sample is filtered to.</param>
/// <param name="LongestAppLockWait">The longest current lock wait of an application session.</param>
/// <param name="BlockedByMigration">Application sessions waiting for a <c>chatops:</c> session, directly or behind another application session that does.</param>
/// <param name="BlockedByOthers">Application sessions waiting only for each other (e.g. row locks): the application's own contention.</param>
/// <param name="ReplicationLag">The largest replay lag of a replica; null when there are no replicas.</param>
/// <param name="Connections">Sessions connected to <paramref name="Database"/> (<paramref name="MaxConnections"/> is the server's limit).</param>
/// <param name="Commits">Commits since the previous sample (and likewise rollbacks — an error aborts its transaction — and deadlocks).</param>
/// <param name="SessionsLost">Sessions ended by a fatal error, terminated or abandoned by their client since the previous sample; null before PostgreSQL 14.</param>
/// <param name="ExecutorLockWait">How long a <c>chatops:</c> session has been waiting (a concurrent build waiting for old transactions is healthy).</param>
/// <param name="SampleDuration">How long the sample's query took on the server's clock.</param>
public sealed record MetricSample(
    DateTimeOffset At,
    string Database,
    TimeSpan LongestAppLockWait,
    int BlockedByMigration,
    int BlockedByOthers,
    int Connections,
    int MaxConnections,
    TimeSpan? ReplicationLag,
    IReadOnlyList<IndexBuildProgress> IndexBuilds,
    long Commits,
    long Rollbacks,
    long Deadlocks,
    long? SessionsLost,
    TimeSpan ExecutorLockWait,
    string? ExecutorWaitEvent,
    TimeSpan SampleDuration) : MonitoringReading(At)
{
    public int BlockedApp => BlockedByMigration + BlockedByOthers;

    /// <summary>Who the migration's waiting session waits for (for a concurrent build: the sessions whose old snapshots it must outwait).</summary>
    public IReadOnlyList<ChatOps.Core.Execution.BlockingSession> ExecutorWaitsFor { get; init; } = [];

    /// <summary>Rollbacks as a percentage of transactions in this sample's interval; null when there were none.</summary>
    public double? RollbackRatioPercent => Commits + Rollbacks == 0 ? null : 100.0 * Rollbacks / (Commits + Rollbacks);
}

/// <summary>A sample that failed: recorded as a gap, never as zeros.</summary>
public sealed record SampleGap(DateTimeOffset At, string Error) : MonitoringReading(At);
