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
        Assert.Contains("20 statements · strongest lock ACCESS EXCLUSIVE", result.Output);
        Assert.Contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_c… SHARE UPDATE EXCLUSIVE", result.Output);
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
}
