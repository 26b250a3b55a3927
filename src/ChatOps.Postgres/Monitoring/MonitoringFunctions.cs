using Npgsql;

namespace ChatOps.Postgres.Monitoring;

/// <summary>The checklist's monitoring functions (<c>sql/deployment/migration_performance_monitor.sql</c>) on the target.</summary>
public static class MonitoringFunctions
{
    /// <summary>Installs them (idempotent: CREATE OR REPLACE).</summary>
    public static async Task InstallAsync(string connectionString, CancellationToken cancellationToken) =>
        await DatabaseAdmin.RunScriptAsync(connectionString,
            await ProductFiles.ReadSqlAsync("deployment/migration_performance_monitor.sql", cancellationToken), cancellationToken);

    /// <summary>True when all three are present.</summary>
    public static async Task<bool> PresentAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT to_regprocedure('public.benchmark_query_performance(integer)') IS NOT NULL
               AND to_regprocedure('public.quick_performance_check()') IS NOT NULL
               AND to_regprocedure('public.monitor_migration_performance(integer,integer)') IS NOT NULL
            """, connection);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
