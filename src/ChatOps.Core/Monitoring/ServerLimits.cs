namespace ChatOps.Core.Monitoring;

/// <summary>
/// The checklist's limits on the server itself, not on the application: connections and replica lag. One definition, judged the same
/// way before the migration (the pre-deployment checks) and in every status post while it runs and after.
/// </summary>
public static class ServerLimits
{
    /// <summary>Connections are worth a look above this share of <c>max_connections</c> (the migration and its probes need a few more).</summary>
    public const double ConnectionsWarnShare = 0.8;

    /// <summary>A replica further behind than this fails: the checklist's "replication lag &lt; 10 s".</summary>
    public static TimeSpan ReplicationLag { get; } = TimeSpan.FromSeconds(10);

    /// <summary>True when <paramref name="used"/> of <paramref name="max"/> connections is above <see cref="ConnectionsWarnShare"/>.</summary>
    public static bool ConnectionsHigh(int used, int max) => max > 0 && used > ConnectionsWarnShare * max;

    /// <summary>True when <paramref name="lag"/> is within <paramref name="limit"/> (default <see cref="ReplicationLag"/>).</summary>
    public static bool LagWithin(TimeSpan lag, TimeSpan? limit = null) => lag < (limit ?? ReplicationLag);
}
