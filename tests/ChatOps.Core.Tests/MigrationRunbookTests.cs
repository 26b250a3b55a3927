using ChatOps.Core.Runbooks;
using ChatOps.Postgres;

namespace ChatOps.Core.Tests;

public class MigrationRunbookTests
{
    [Fact]
    public void The_seed_runbook_file_parses_with_its_checklist_validations()
    {
        var path = Path.Combine(ProductFiles.Root, "sql/migrations/20250803_add_analytics_tracking_optimized.runbook.json");
        var runbook = MigrationRunbook.Parse(File.ReadAllText(path), path);

        Assert.Equal("public.contacts", runbook.Table);
        Assert.Contains(runbook.Validations, v => v.Checklist == "Index Creation");
        Assert.Contains(runbook.Validations, v => v.Checklist == "Column Addition");
        Assert.Contains(runbook.Benchmarks, b => b.AfterOnly);
        Assert.Contains(runbook.Benchmarks, b => !b.AfterOnly);
        Assert.Equal("app_user", runbook.RlsProbe?.Role);
        Assert.NotEmpty(runbook.IndexUsage);
    }

    [Fact]
    public void Unknown_fields_and_missing_sql_are_named()
    {
        var unknown = Assert.Throws<FormatException>(() => MigrationRunbook.Parse("""{ "validationz": [] }""", "x.runbook.json"));
        Assert.Contains("x.runbook.json", unknown.Message);
        Assert.Contains("validationz", unknown.Message);

        var missing = Assert.Throws<FormatException>(() => MigrationRunbook.Parse("""{ "validations": [ { "name": "v", "sql": " " } ] }""", "y.runbook.json"));
        Assert.Contains("validation 'v' needs a name and sql", missing.Message);
    }
}
