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

    [Theory]
    [InlineData("""{ "thresholds": { "app-lock-wait": { "value": -1 } } }""", "thresholds.app-lock-wait.value is -1: it must be a number, 0 or more")]
    [InlineData("""{ "thresholds": { "blocked-sessions": { "for": "-00:00:30" } } }""", "thresholds.blocked-sessions.for is -00:00:30: it must be a positive duration")]
    [InlineData("""{ "thresholds": { "blocked-sessions": { "for": "00:00:00" } } }""", "thresholds.blocked-sessions.for is 00:00:00: it must be a positive duration")]
    [InlineData("""{ "thresholds": { "query-degradation": { "rounds": 0 } } }""", "thresholds.query-degradation.rounds is 0: it must be 1 or more")]
    [InlineData("""{ "thresholds": { "query-degradation": { "for": "00:01:00" } } }""", "thresholds.query-degradation.for: this rule counts consecutive readings; set 'rounds' instead")]
    [InlineData("""{ "thresholds": { "error-rate": { "rounds": 3 } } }""", "thresholds.error-rate.rounds: this rule holds for a duration; set 'for' instead")]
    [InlineData("""{ "thresholds": { "lock-wait": { "value": 1 } } }""", "thresholds: unknown rule 'lock-wait' (known: app-lock-wait, blocked-sessions")]
    [InlineData("""{ "rowsAtBaseline": "SELECT count(*) FROM t WHERE created_at <= $1" }""", "rowsAtBaseline lists the rows' keys and takes no parameters")]
    [InlineData("""{ "table": "a.b.c" }""", "table: 'a.b.c' is not a table name")]
    public void Invalid_settings_are_refused_naming_the_file_and_the_field(string json, string expected)
    {
        var error = Assert.Throws<FormatException>(() => MigrationRunbook.Parse(json, "z.runbook.json"));
        Assert.StartsWith("z.runbook.json: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Valid_overrides_apply_to_the_default_rules()
    {
        var runbook = MigrationRunbook.Parse("""{ "thresholds": { "blocked-sessions": { "value": 3, "for": "00:00:10" }, "query-degradation": { "rounds": 5, "rollbackTrigger": false } } }""", "ok.runbook.json");
        var rules = runbook.Rules().ToDictionary(r => r.Name);
        Assert.Equal(3, rules["blocked-sessions"].Value);
        Assert.Equal(TimeSpan.FromSeconds(10), rules["blocked-sessions"].For);
        Assert.Equal(5, rules["query-degradation"].Rounds);
        Assert.Equal(ChatOps.Core.Monitoring.BreachAction.Alert, rules["query-degradation"].Action);
    }
}
