using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary><c>chatops serve</c> as a child process with the local channel, against real PostgreSQL, driven through standard input.</summary>
public class ServeTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private Dictionary<string, string> Environment() => new()
    {
        ["ConnectionStrings__State"] = state.ConnectionString,
        ["ConnectionStrings__Target"] = target.ConnectionString,
        ["ChatOps__Roles__DatabaseAdministrator__0"] = "dan",
        ["ChatOps__Roles__SeniorBackendEngineer__0"] = "sam",
        ["ChatOps__Roles__SeniorBackendEngineer__1"] = "req",
        ["ChatOps__Roles__DevOpsLead__0"] = "olga",
        ["ChatOps__Roles__ProductOwner__0"] = "pete",
        ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500",
        // Post-deployment monitoring for 3 s, status every second: the local session waits for it, then the report.
        ["ChatOps__PostDeployment__Immediate"] = "00:00:02",
        ["ChatOps__PostDeployment__Extended"] = "00:00:03",
        ["ChatOps__Status__Interval"] = "00:00:01",
    };

    [Fact]
    public async Task Start_four_sign_offs_approved_phases_verdict_on_the_transcript_and_in_the_state_database()
    {
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], Environment(), input: $"""
            as req
            /migrate start {SeedMigration.Id}
            react dan ✅ D-1
            react sam ✅ D-1
            react pete ✅ D-1
            /migrate status D-1
            react olga :white_check_mark: D-1
            """);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains($"🗄️ D-1 · {SeedMigration.Id}", result.Output);
        Assert.Contains("AWAITING SIGN-OFF (3/4)", result.Output);
        Assert.Contains("🟢 APPROVED FOR DEPLOYMENT", result.Output);
        Assert.Contains("── phase 4 · validation ──", result.Output);
        Assert.Contains("🟢 VERDICT: SUCCESS", result.Output);
        Assert.Contains("▶️ RUNNING · phase 2 · execute migration", result.Output);
        Assert.Contains("🟢 DEPLOYED · post-deployment monitoring", result.Output);
        Assert.Contains("📊 D-1 · status", result.Output);
        Assert.Contains("📈 D-1", result.Output);
        Assert.Contains("🟢 COMPLETED", result.Output);
        Assert.DoesNotContain("Password", result.Output);
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(4L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.sign_offs WHERE deployment = 1"));
        Assert.Equal(1L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND what = 'phase 4 · validation started'"));
        Assert.Equal("succeeded", await target.ScalarAsync<string>("SELECT outcome FROM chatops.migration_history WHERE migration = $1", SeedMigration.Id));
    }

    [Fact]
    public async Task Serve_without_a_state_database_or_roles_refuses_to_start_saying_how_to_fix_each()
    {
        var environment = new Dictionary<string, string> { ["ConnectionStrings__Target"] = target.ConnectionString };
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], environment, ["ConnectionStrings__State"], input: "");
        Assert.True(result.ExitCode == 2, result.Output + result.Error);
        Assert.Contains("no state database", result.Error);
        Assert.Contains("ConnectionStrings__State", result.Error);
        Assert.Contains("nobody holds Database Administrator: set ChatOps:Roles:DatabaseAdministrator", result.Error);
    }
}
