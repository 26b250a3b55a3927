using ChatOps.Postgres;

namespace ChatOps.Testing;

/// <summary>The customer's migration files, as shipped in <c>sql/migrations</c>.</summary>
public static class SeedMigration
{
    public const string Id = "20250803_add_analytics_tracking_optimized";

    public static string Directory => Path.Combine(ProductFiles.Root, "sql", "migrations");
    public static string SqlPath => Path.Combine(Directory, Id + ".sql");
    public static string RollbackPath => Path.Combine(Directory, Id + ".rollback.sql");
    public static string RunbookPath => Path.Combine(Directory, Id + ".runbook.json");

    public static string Sql => File.ReadAllText(SqlPath);
    public static string Rollback => File.ReadAllText(RollbackPath);

    public static readonly string[] IndexNames =
        ["idx_contacts_analytics_date", "idx_contacts_analytics_optimized", "idx_contacts_org_analytics_optimized"];
}

/// <summary>A demo database with the seed migration applied once, for tests that only read.</summary>
public sealed class MigratedDatabase : PostgresDatabase
{
    public long RowsBefore { get; private set; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        RowsBefore = await ScalarAsync<long>("SELECT count(*) FROM public.contacts");
        await RunScriptAsync(SeedMigration.Sql);
    }
}
