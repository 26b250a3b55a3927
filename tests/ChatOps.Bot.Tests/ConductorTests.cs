using ChatOps.Bot.Conversation;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Bot.Tests;

/// <summary>
/// The conversation end to end, in process: the local channel's lines drive the conductor, the state database keeps the
/// deployment, and the seed's runbook runs against a real target once four roles have signed.
/// </summary>
public class ConductorTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "ana", "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "ana", "pete" },
    });

    [Fact]
    public async Task Start_four_sign_offs_in_any_order_approve_the_runbook_runs_and_the_card_ends_completed()
    {
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, SeedMigration.Directory, Holders);
        await bot.StartAsync();

        await bot.SayAsync(
            $"/migrate strat {SeedMigration.Id}",
            "/migrate start ../../etc/passwd",
            "as mallory",
            $"/migrate start {SeedMigration.Id}",
            "as req",
            $"/migrate start {SeedMigration.Id}",
            "react req ✅ D-1",
            "react bot ✅ D-1",
            "react mallory ✅ D-1",
            "react ana :white_check_mark: D-1",
            "react sam :thumbsup: D-1",
            "react dan ✅ D-1",
            "react sam ✅ D-1",
            "/migrate status",
            "react olga ✅ D-1");
        await bot.SettleAsync();
        var transcript = bot.Transcript;

        // Refusals: a typo gets a suggestion, a path is no migration name, a non-holder may not start.
        Assert.Contains("did you mean `start`", transcript);
        Assert.Contains("'../../etc/passwd' is not a migration name", transcript);
        Assert.Contains("⛔ mallory may not start", transcript);
        // … each answered to its caller alone.
        Assert.Contains("── #local · only for req ──\n⚠️ `strat` is", transcript);
        Assert.Contains("── #local · only for mallory ──\n⛔ mallory may not start", transcript);
        // ana (DBA and Product Owner) signed before dan (DBA only): the assignment still covers all four roles.
        Assert.Contains("🟢 VERDICT: SUCCESS", transcript);
        Assert.Contains("── phase 2 · execute migration ──", transcript);
        Assert.Contains("COMPLETED", (await bot.CardAsync(1))!.Status);

        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        var audit = await state.ScalarAsync<string>("SELECT string_agg(who || ': ' || what || CASE WHEN counted THEN '' ELSE ' (not counted)' END, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");
        Assert.Contains("req: sign-off: req requested this deployment and may not sign it", audit);
        Assert.Contains("mallory: sign-off: mallory holds none of the four roles (not counted)", audit);
        Assert.DoesNotContain("bot: sign-off", audit);   // the bot's own reaction is not even a candidate …
        Assert.Contains("bot: reaction ✅: the bot's own reaction never counts (not counted)", audit);   // … but it is recorded
        Assert.Contains("sam: reaction :thumbsup: on the card: not the sign-off emoji (not counted)", audit);
        Assert.True(audit.Contains("bot: approved (Database Administrator: dan, Senior Backend Engineer: sam, DevOps/SRE Lead: olga, Product Owner: ana)", StringComparison.Ordinal), audit);
        Assert.Contains("bot: verdict: success", audit);
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'analytics_enabled'"));

        // A rollback while another run holds the target: said to the caller, the deployment can be rolled back once it is free.
        await using (var other = await target.OpenAsync("chatops:other-run"))
        {
            await using (var hold = new Npgsql.NpgsqlCommand("SELECT pg_advisory_lock(1128812368, hashtext(current_database()) & 2147483647)", other))
                await hold.ExecuteNonQueryAsync();
            await bot.SayAsync("as dan", "/migrate rollback D-1 --confirm");
            await bot.SettleAsync();
            // The connection goes back to a pool, its session with it: the lock is let go here.
            await using var release = new Npgsql.NpgsqlCommand("SELECT pg_advisory_unlock_all()", other);
            await release.ExecuteNonQueryAsync();
        }
        Assert.Contains("the rollback could not run: another migration run holds database", bot.Transcript);
        Assert.Equal("RollbackFailed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        await bot.SayAsync("/migrate rollback D-1 --confirm");
        await bot.SettleAsync();
        Assert.Equal("RolledBack", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_policies WHERE policyname = 'Analytics access optimized'"));
    }
}

/// <summary>Control during a run: pause and resume, a rollback refused to a Product Owner, prompted, confirmed with ⏪ — the forward run cancelled first.</summary>
public class ConductorControlTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    [Fact]
    public async Task Pause_resume_and_a_confirmed_rollback_during_the_run_cancel_the_forward_run_then_roll_back()
    {
        using var folder = new MigrationFolder().With("ctl_slow", "CREATE TABLE ctl_done (id int);\nSELECT pg_sleep(60);\n", rollback: "DROP TABLE IF EXISTS ctl_done;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        Task Say(string line) => bot.SayAsync(line);

        await Say("/migrate start ctl_slow");
        foreach (var signer in new[] { "dan", "sam", "olga", "pete" })
            await Say($"react {signer} ✅ D-1");
        await Poll.UntilAsync(() => target.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND application_name LIKE 'chatops:%')"),
            "the migration's long statement to run", TimeSpan.FromMinutes(2));

        await Say("as pete");
        await Say("/migrate pause");
        await Say("/migrate resume");
        await Say("/migrate rollback");
        await Say("as dan");
        await Say("/migrate rollback");
        await Say("react dan ⏪ D-1");
        await bot.SettleAsync(TimeSpan.FromMinutes(2));

        var transcript = bot.Transcript;
        Assert.Contains("D-1: paused (at the next statement boundary or phase)", transcript);
        Assert.Contains("D-1: resumed", transcript);
        Assert.Contains("pete may not rollback: it needs the Database Administrator or DevOps/SRE Lead role", transcript);
        Assert.Contains("⏪ Roll back D-1 (ctl_slow)?", transcript);
        Assert.Contains("⏪ bot reacted on", transcript);
        Assert.Contains("D-1: cancelling the forward run, then rolling back", transcript);
        Assert.Contains("D-1: rolled back and verified", transcript);
        Assert.Equal("RolledBack", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'ctl_done'"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%'"));
        Assert.Equal("run cancelled|rollback succeeded", await target.ScalarAsync<string>(
            "SELECT string_agg(kind || ' ' || outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = 'ctl_slow'"));
    }
}

/// <summary>Abort, pause at a statement boundary, a failed verdict's prompt and a sign-off removed after execution started — through the bot.</summary>
public class ConductorBoundaryTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly string[] SignOffs = ["react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1"];

    private Task<bool> RunningAsync(string statement) => target.ScalarAsync<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE $1 AND application_name LIKE 'chatops:%')", statement + "%");

    private Task<long> TablesAsync(string name) => target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = $1", name);

    [Fact]
    public async Task Abort_lets_the_running_statement_finish_starts_nothing_more_and_the_card_says_what_the_database_holds()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("ab_slow", "CREATE TABLE ab_a (id int);\nSELECT pg_sleep(3);\nCREATE TABLE ab_b (id int);\n",
            rollback: "DROP TABLE IF EXISTS ab_a; DROP TABLE IF EXISTS ab_b;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync(["/migrate start ab_slow", .. SignOffs]);
        await Poll.UntilAsync(() => RunningAsync("SELECT pg_sleep(3)"), "the long statement to run", TimeSpan.FromMinutes(2));

        await bot.SayAsync("as dan", "/migrate abort");
        await bot.SettleAsync();

        Assert.Contains("D-1: aborting: the run stops at the next statement boundary; nothing is rolled back", bot.Transcript);
        Assert.Contains("✓ #2 line 2", bot.Transcript);   // the running statement finished: it was not cancelled
        Assert.Equal(1L, await TablesAsync("ab_a"));
        Assert.Equal(0L, await TablesAsync("ab_b"));    // nothing started after it
        Assert.Equal("Aborted", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Contains("database: 2 of 3 statements applied, the rest not run", (await bot.CardAsync(1))!.Status);
        Assert.Contains("/migrate rollback --confirm to undo what ran", (await bot.CardAsync(1))!.Footer);
    }

    [Fact]
    public async Task An_abort_before_execution_says_the_database_was_not_touched()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("ab_early", "CREATE TABLE ab_early (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();

        await bot.SayAsync("/migrate start ab_early", "react dan ✅ D-1", "as olga", "/migrate abort D-1");

        Assert.Contains("D-1: aborted: nothing ran", bot.Transcript);
        Assert.Contains("database: not touched", (await bot.CardAsync(1))!.Status);
        Assert.Equal(0L, await TablesAsync("ab_early"));
    }

    [Fact]
    public async Task Pause_holds_the_next_statement_until_resume()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pz_slow", "CREATE TABLE pz_a (id int);\nSELECT pg_sleep(2);\nCREATE TABLE pz_b (id int);\n",
            rollback: "DROP TABLE IF EXISTS pz_a; DROP TABLE IF EXISTS pz_b;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync(["/migrate start pz_slow", .. SignOffs]);
        await Poll.UntilAsync(() => RunningAsync("SELECT pg_sleep(2)"), "the long statement to run", TimeSpan.FromMinutes(2));

        await bot.SayAsync("as pete", "/migrate pause");
        await Poll.UntilAsync(() => Task.FromResult(bot.Transcript.Contains("⏸️ paused before #3 line 3", StringComparison.Ordinal)),
            "the run to stop before #3", TimeSpan.FromMinutes(1), () => Task.FromResult(bot.Transcript));
        Assert.Equal(0L, await TablesAsync("pz_b"));
        Assert.Equal("Paused", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        await bot.SayAsync("/migrate resume");
        await bot.SettleAsync();

        Assert.Equal(1L, await TablesAsync("pz_b"));
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
    }

    [Fact]
    public async Task A_failed_verdict_posts_a_rollback_prompt_that_a_permitted_rewind_answers_and_a_late_revoke_is_said_in_the_thread()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("fv_broken", "CREATE TABLE fv_a (id int);\nSELECT 1/0;\n", rollback: "DROP TABLE IF EXISTS fv_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync(["/migrate start fv_broken", .. SignOffs]);
        await bot.SettleAsync();

        Assert.Contains("🔴 VERDICT: FAILED", bot.Transcript);
        Assert.Contains("⏪ Roll back D-1 (fv_broken)?", bot.Transcript);
        Assert.Contains("the verdict failed: a Database Administrator or DevOps/SRE Lead reacts ⏪ within 5 minutes", bot.Transcript);

        await bot.SayAsync("unreact sam ✅ D-1");
        Assert.Contains("↩️ sam removed their sign-off after execution started: recorded, and it no longer changes anything", bot.Transcript);

        await bot.SayAsync("react pete ⏪ D-1");   // a Product Owner may not roll back
        Assert.Equal("Failed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        await bot.SayAsync("react dan ⏪ D-1");
        await bot.SettleAsync();

        Assert.Equal("RolledBack", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(0L, await TablesAsync("fv_a"));
    }

    [Fact]
    public async Task Checks_that_failed_on_the_card_run_again_at_sign_off_and_once_fixed_the_deployment_is_approved()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await target.ExecuteAsync("DROP TABLE IF EXISTS rc_t");
        using var folder = new MigrationFolder().With("rc_add", "ALTER TABLE rc_t ADD COLUMN c int;\n", rollback: "ALTER TABLE rc_t DROP COLUMN IF EXISTS c;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();

        await bot.SayAsync("/migrate start rc_add", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");
        Assert.Contains("rc_t does not exist", bot.Transcript);   // the card's failing check
        await bot.SayAsync("react pete ✅ D-1");
        Assert.Equal("AwaitingApproval", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        // The table is created (the missing piece was deployed); the next sign-off runs the checks again and they pass.
        await target.ExecuteAsync("CREATE TABLE rc_t (id int)");
        await bot.SayAsync("unreact pete ✅ D-1", "react pete ✅ D-1");
        await bot.SettleAsync();

        var audit = await state.ScalarAsync<string>("SELECT string_agg(what, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");
        Assert.Contains("pre-deployment checks ran again: still failing: tables exist", audit);
        Assert.Contains("pre-deployment checks ran again: all pass now", audit);
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
    }
}
