using ChatOps.Postgres.Launching;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A fact about local clusters: skipped, saying why, where no PostgreSQL server binaries are installed
/// (such a machine starts its servers another way), rather than passing without having run.
/// </summary>
// Here rather than in ChatOps.Testing: LocalBinaries is internal, visible to this assembly only.
public sealed class LocalPostgresFactAttribute : FactAttribute
{
    private static readonly Lazy<BinariesProbe> Probe = new(LocalBinaries.Find);

    public LocalPostgresFactAttribute()
    {
        if (Probe.Value.Directory is null)
            Skip = $"no local PostgreSQL server binaries ({Probe.Value.Reason}): no local cluster to start or clean up";
    }
}
