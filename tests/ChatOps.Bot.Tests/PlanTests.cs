using System.Text.Json;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

public class PlanTests
{
    [Fact]
    public async Task Plan_of_the_seed_lists_every_statement_with_its_lock_and_no_warning()
    {
        var result = await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id]);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("22 statements · strongest lock ACCESS EXCLUSIVE", result.Output);
        Assert.Contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_c… SHARE UPDATE EXCLUSIVE", result.Output);
        // Every re-run block is static SQL the analyzer reads: no unknown lock.
        Assert.Contains("No warnings.", result.Output);
        Assert.Contains("1 note(s) for the application:", result.Output);
        Assert.Contains("note  line 12 [add-column-row-type] ADD COLUMN changes the row type of public.contacts", result.Output);
    }

    [Fact]
    public async Task Plan_json_of_a_dangerous_script_carries_locks_rewrites_and_warnings()
    {
        var directory = Directory.CreateTempSubdirectory("chatops-plan-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "danger.sql"), """
                ALTER TABLE contacts ADD COLUMN token uuid DEFAULT gen_random_uuid();
                BEGIN;
                CREATE INDEX CONCURRENTLY idx_b ON contacts (name);
                COMMIT;
                """);
            var result = await ChatOpsProcess.RunAsync(["plan", "danger", "--json"],
                new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = directory });

            Assert.Equal(1, result.ExitCode);   // an error-level finding: it would fail as written
            using var json = JsonDocument.Parse(result.Output);
            var statements = json.RootElement.GetProperty("statements");
            Assert.Equal(4, statements.GetArrayLength());
            var add = statements[0];
            Assert.True(add.GetProperty("rewritesTable").GetBoolean());
            Assert.Equal("ACCESS EXCLUSIVE", add.GetProperty("locks")[0].GetProperty("mode").GetString());
            Assert.True(add.GetProperty("locks")[0].GetProperty("blocksReads").GetBoolean());
            Assert.Equal("volatile-default", add.GetProperty("warnings")[0].GetProperty("rule").GetString());
            Assert.Equal("notice", add.GetProperty("warnings")[1].GetProperty("level").GetString());
            var build = statements[2];
            Assert.False(build.GetProperty("canRunInTransaction").GetBoolean());
            Assert.Equal("error", build.GetProperty("warnings")[0].GetProperty("level").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Plan_of_an_unknown_migration_lists_the_available_ones()
    {
        var result = await ChatOpsProcess.RunAsync(["plan", "nope"]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"no migration 'nope'", result.Error);
        Assert.Contains(SeedMigration.Id, result.Error);
    }

    [Fact]
    public async Task Plan_json_of_an_unknown_migration_is_a_json_error_listing_the_available_ones()
    {
        var result = await ChatOpsProcess.RunAsync(["plan", "nope", "--json"]);

        Assert.Equal(2, result.ExitCode);
        using var error = JsonDocument.Parse(result.Output);
        Assert.Equal("unknown-migration", error.RootElement.GetProperty("error").GetString());
        Assert.Equal("nope", error.RootElement.GetProperty("migration").GetString());
        Assert.Contains(SeedMigration.Id, error.RootElement.GetProperty("available").EnumerateArray().Select(a => a.GetString()));
        Assert.Contains("no migration 'nope'", result.Error);
    }
}

/// <summary><c>plan --target</c>, <c>--strict</c> and refusals, as a user runs them.</summary>
public class PlanTargetTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static async Task<ChatOpsProcess.Result> PlanAsync(string sql, params string[] options)
    {
        var directory = Directory.CreateTempSubdirectory("chatops-plan-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "m.sql"), sql);
            return await ChatOpsProcess.RunAsync(["plan", "m", .. options], new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = directory });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task With_the_target_the_plan_names_what_the_sql_alone_cannot()
    {
        const string sql = """
            DROP INDEX contacts_organization_id_idx;
            ALTER TABLE contacts ALTER COLUMN name TYPE varchar(200);
            INSERT INTO contacts (organization_id, name, email) SELECT id, 'x', 'y' FROM organizations LIMIT 1;
            """;
        var alone = await PlanAsync(sql, "--json");
        var informed = await PlanAsync(sql, "--json", "--target", db.ConnectionString);

        Assert.Equal(0, informed.ExitCode);
        using var without = JsonDocument.Parse(alone.Output);
        using var with = JsonDocument.Parse(informed.Output);
        string[] Tables(JsonDocument d, int i) => d.RootElement.GetProperty("statements")[i].GetProperty("locks").EnumerateArray()
            .Select(l => $"{l.GetProperty("table").GetString()} {l.GetProperty("mode").GetString()}").ToArray();
        // DROP INDEX: the catalog names the index's table.
        Assert.DoesNotContain("contacts ACCESS EXCLUSIVE", Tables(without, 0));
        Assert.Contains("contacts ACCESS EXCLUSIVE", Tables(with, 0));
        // INSERT: ROW SHARE on the table its foreign key references.
        Assert.Contains("organizations ROW SHARE", Tables(with, 2));
        // text → varchar(200) rewrites (with the catalog, for the right reason), and so rebuilds each of the table's indexes.
        Assert.True(with.RootElement.GetProperty("statements")[1].GetProperty("rewritesTable").GetBoolean());
        var rebuilt = with.RootElement.GetProperty("statements")[1].GetProperty("indexLocks").EnumerateArray()
            .Select(l => $"{l.GetProperty("index").GetString()} {l.GetProperty("mode").GetString()}").ToArray();
        Assert.Contains("contacts_pkey ACCESS EXCLUSIVE", rebuilt);
        Assert.Empty(without.RootElement.GetProperty("statements")[1].GetProperty("indexLocks").EnumerateArray());
        Assert.DoesNotContain("Password", informed.Output + informed.Error);
    }

    [Fact]
    public async Task With_the_target_the_plan_names_row_estimates_and_work_on_an_empty_table_is_instant()
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS plan_empty (id int, name text)");
        await db.ExecuteAsync("ANALYZE public.contacts");   // a row estimate, as autovacuum leaves on a live database
        const string sql = """
            ALTER TABLE contacts ADD COLUMN token uuid DEFAULT gen_random_uuid();
            ALTER TABLE plan_empty ADD COLUMN token uuid DEFAULT gen_random_uuid();
            CREATE INDEX plan_empty_name ON plan_empty (name);
            ALTER TABLE plan_empty ADD COLUMN code int NOT NULL;
            """;
        var json = await PlanAsync(sql, "--json", "--target", db.ConnectionString);
        var text = await PlanAsync(sql, "--target", db.ConnectionString);
        var alone = await PlanAsync(sql, "--json");

        // The empty table's findings are notes (exit 0: no error-level finding left); without the catalog they are not.
        Assert.True(json.ExitCode == 0, json.Output + json.Error);
        Assert.Equal(1, alone.ExitCode);
        using var plan = JsonDocument.Parse(json.Output);
        var statements = plan.RootElement.GetProperty("statements");
        JsonElement Finding(int statement, string rule) =>
            statements[statement].GetProperty("warnings").EnumerateArray().Single(w => w.GetProperty("rule").GetString() == rule);

        var populated = Finding(0, "volatile-default");
        Assert.Equal("warning", populated.GetProperty("level").GetString());
        Assert.Contains("rewrites contacts (~50k rows)", populated.GetProperty("message").GetString());
        foreach (var (statement, rule) in new[] { (1, "volatile-default"), (2, "index-not-concurrently"), (3, "adding-required-field") })
        {
            var instant = Finding(statement, rule);
            Assert.Equal("notice", instant.GetProperty("level").GetString());
            if (rule != "adding-required-field")
                Assert.StartsWith("the table is empty: instant.", instant.GetProperty("message").GetString());
        }

        var tables = plan.RootElement.GetProperty("tables").EnumerateArray().ToDictionary(t => t.GetProperty("table").GetString()!);
        Assert.InRange(tables["contacts"].GetProperty("estimatedRows").GetInt64(), 45_000, 55_000);
        Assert.False(tables["contacts"].GetProperty("empty").GetBoolean());
        Assert.True(tables["plan_empty"].GetProperty("empty").GetBoolean());

        Assert.Contains("Tables on the target", text.Output);
        Assert.Matches(@"plan_empty\s+empty", text.Output);
        Assert.Matches(@"contacts\s+~50k rows", text.Output);
    }

    [Fact]
    public async Task Strict_adds_the_style_notes_and_an_unparseable_script_is_refused_with_a_json_error()
    {
        var plain = await PlanAsync("CREATE TABLE t (id int, at timestamp);");
        var strict = await PlanAsync("CREATE TABLE t (id int, at timestamp);", "--strict");
        Assert.Equal(0, strict.ExitCode);
        Assert.DoesNotContain("prefer-timestamptz", plain.Output);
        Assert.Contains("[prefer-timestamptz]", strict.Output);
        Assert.Contains("[prefer-bigint-over-int]", strict.Output);

        var refused = await PlanAsync("UPDATE contacts SET name = 'unterminated;", "--json");
        Assert.Equal(2, refused.ExitCode);
        using var error = JsonDocument.Parse(refused.Output);
        Assert.Equal("unparseable", error.RootElement.GetProperty("error").GetString());
        Assert.EndsWith("m.sql", error.RootElement.GetProperty("file").GetString());
    }
}
