using ChatOps.Bot.Scheduling;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;
using ChatOps.Postgres.Options;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// <c>/migrate start --window</c> through the local channel (issue 14 §5), with Quartz on the state database: the card and the
/// scheduled time, the reminder and window-start jobs; at the window's start (the job's logic called with a fake clock — nobody
/// waits for a real window) an unapproved deployment is postponed, an approved one runs;
/// one still running when the window ends (the bot's clock shifted past it) pauses after the running phase (§8).
/// </summary>
public class MaintenanceWindowBotTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly MaintenanceWindow Window = MaintenanceWindow.Parse("02:00", "04:00", "Europe/Berlin").Window!;

    private sealed class Setup(LocalBot bot, QuartzDeploymentSchedule schedule, MigrationFolder folder) : IAsyncDisposable
    {
        public LocalBot Bot => bot;
        public QuartzDeploymentSchedule Schedule => schedule;

        /// <summary>The window-start and reminder work as it runs at <paramref name="now"/> (a fake clock, nothing else changed).</summary>
        public WindowWork At(DateTimeOffset now) => new(bot.Bot.Store, bot.Bot.Outbox, bot.Bot.Cards, bot.Bot.Parts.Targets, new ExecutionOptions(), Window,
            schedule, new FakeTimeProvider(now), NullLogger<WindowWork>.Instance);

        public async ValueTask DisposeAsync()
        {
            await bot.DisposeAsync();
            await schedule.DisposeAsync();
            folder.Dispose();
        }
    }

    /// <param name="sql">The migration; one that creates <c>{migration}_done</c> when null (the rollback drops that table).</param>
    /// <param name="time">The bot's clock; the system's when null.</param>
    private async Task<Setup> StartAsync(string migration, bool withWindow = true, string? sql = null, TimeProvider? time = null)
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await ChatOps.Postgres.State.StateDatabase.MigrateAsync(state.ConnectionString, CancellationToken.None);
        var folder = new MigrationFolder().With(migration, sql ?? $"CREATE TABLE {migration}_done (id int);\n", rollback: $"DROP TABLE IF EXISTS {migration}_done;");
        var schedule = await QuartzDeploymentSchedule.CreateAsync(state.ConnectionString, TimeProvider.System, NullLoggerFactory.Instance, CancellationToken.None);
        var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, time: time, window: withWindow ? Window : null, schedule: schedule);
        await bot.StartAsync();
        return new Setup(bot, schedule, folder);
    }

    private async Task<(DateTimeOffset Start, DateTimeOffset End)> WindowOfAsync(int deployment)
    {
        await using var connection = await state.OpenAsync("test");
        await using var command = new Npgsql.NpgsqlCommand($"SELECT window_start, window_end FROM chatops_state.deployments WHERE id = {deployment}", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1));
    }

    [Fact]
    public async Task Start_with_window_posts_the_card_and_the_scheduled_time_schedules_both_jobs_and_approval_does_not_start_it()
    {
        await using var setup = await StartAsync("win_sched");
        var before = DateTimeOffset.UtcNow;

        await setup.Bot.SayAsync("/migrate start win_sched --window");
        Assert.True(setup.Bot.Transcript.Contains("🗄️ D-1 · win_sched", StringComparison.Ordinal), setup.Bot.Transcript);

        var expected = Window.Next(before);
        var (start, end) = await WindowOfAsync(1);
        Assert.Equal((expected.Start, expected.End), (start, end));
        var transcript = setup.Bot.Transcript;
        Assert.Contains("🗄️ D-1 · win_sched", transcript);
        Assert.Contains("🗓️ D-1 is scheduled for the maintenance window", transcript);
        Assert.Contains(Window.Describe(start), transcript);   // the zone's time and UTC
        Assert.Contains(" UTC", Window.Describe(start));
        Assert.Contains("scheduled for the maintenance window", (await setup.Bot.CardAsync(1))!.Footer);
        // Both jobs are in Quartz's store: the window's start at its start; the reminder (the window is under 24 h away) at once —
        // and Quartz fires it, calling on the four roles.
        Assert.Equal(start, await setup.Schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), CancellationToken.None));
        await Poll.UntilAsync(() => Task.FromResult(setup.Bot.Transcript.Contains("⏰ Reminder: D-1 · win_sched", StringComparison.Ordinal)),
            "the reminder to fire and be posted");
        Assert.Contains("@Product Owner (pete)", setup.Bot.Transcript[setup.Bot.Transcript.IndexOf("⏰ Reminder", StringComparison.Ordinal)..]);

        // Four sign-offs before the window: approved, and nothing runs.
        await setup.Bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await setup.Bot.SettleAsync(TimeSpan.FromSeconds(30));   // settles at once: a deployment waiting for its window is no work
        await Task.Delay(TimeSpan.FromSeconds(2));                // the owner sweeps every second: it must not pick it up
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Empty(setup.Bot.Bot.Owner.Owned);
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'win_sched_done'"));
        Assert.Contains("approved: starts when the maintenance window opens", (await setup.Bot.CardAsync(1))!.Footer);
    }

    [Fact]
    public async Task Not_approved_at_the_window_s_start_it_is_postponed_to_the_next_window_saying_which_roles_are_missing()
    {
        await using var setup = await StartAsync("win_post");
        await setup.Bot.SayAsync("/migrate start win_post --window", "react dan ✅ D-1", "react sam ✅ D-1");
        var (start, _) = await WindowOfAsync(1);

        await setup.At(start).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);
        await setup.Bot.SettleAsync(TimeSpan.FromSeconds(30));

        var next = Window.Next(start);
        Assert.Equal(start.AddDays(1), next.Start);
        Assert.Equal((next.Start, next.End), await WindowOfAsync(1));
        Assert.Equal("AwaitingApproval", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        var transcript = setup.Bot.Transcript;
        Assert.Contains("⏸️ D-1 is postponed to the next maintenance window", transcript);
        Assert.Contains("not approved: still to sign — DevOps/SRE Lead, Product Owner", transcript);
        Assert.Contains(Window.Describe(next.Start), transcript);
        Assert.Equal(next.Start, await setup.Schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), CancellationToken.None));
        Assert.Contains("postponed to the maintenance window", await state.ScalarAsync<string>(
            "SELECT string_agg(what, E'\\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'win_post_done'"));
    }

    [Fact]
    public async Task Approved_at_the_window_s_start_with_the_checks_passing_it_runs()
    {
        await using var setup = await StartAsync("win_run");
        await setup.Bot.SayAsync("/migrate start win_run --window", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        var (start, _) = await WindowOfAsync(1);
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        // Sign-offs are valid for 24 hours; the window is less than that away, so they still hold at its start.
        await setup.At(start.AddSeconds(1)).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);
        await setup.Bot.SettleAsync();

        Assert.Contains("🪟 The maintenance window is open: D-1 starts", setup.Bot.Transcript);
        Assert.Contains("🟢 VERDICT: SUCCESS", setup.Bot.Transcript);
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'win_run_done'"));

        // The job fired again (a node's recovery) finds nothing waiting: it does nothing.
        await setup.At(start.AddSeconds(2)).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);
        Assert.DoesNotContain("is postponed to the next maintenance window", setup.Bot.Transcript);
    }

    [Fact]
    public async Task Running_when_the_window_ends_it_pauses_after_the_running_phase_and_resume_goes_on_to_the_verdict_without_pausing_again()
    {
        // The bot's wall clock jumps (to the window's start, then past its end); its timers stay real. Phase 2 sleeps long enough to
        // be caught running.
        var clock = new ShiftedClock();
        await using var setup = await StartAsync("win_end", sql: "SELECT pg_sleep(5);\nCREATE TABLE win_end_done (id int);\n", time: clock);
        await setup.Bot.SayAsync("/migrate start win_end --window", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        var (start, end) = await WindowOfAsync(1);
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        clock.Advance(start.AddSeconds(1) - clock.GetUtcNow());
        await setup.At(start.AddSeconds(1)).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);
        await Poll.UntilAsync(async () => await state.ScalarAsync<string>("SELECT coalesce(phase, '') FROM chatops_state.deployments WHERE id = 1") == "Migration"
                && await target.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(5)%')"),
            "phase 2 to run its long statement", TimeSpan.FromMinutes(2));

        // The window ends while phase 2 runs: it finishes, and the run pauses before phase 3.
        clock.Advance(end - start + TimeSpan.FromMinutes(1));
        await Poll.UntilAsync(async () => await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1") == "Paused"
                && setup.Bot.Transcript.Contains($"⏸️ D-1 paused: the maintenance window ended at {end:HH:mm}Z", StringComparison.Ordinal)
                && (await setup.Bot.CardAsync(1))?.Status?.Contains("⏸️ PAUSED · phase 2 · execute migration", StringComparison.Ordinal) == true,
            "the run to pause at the window's end, say so and show it on the card", TimeSpan.FromMinutes(1),
            async () => $"{await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1")}\n{setup.Bot.Transcript}");
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'win_end_done'"));   // the running phase finished
        await Poll.UntilAsync(() => Task.FromResult(setup.Bot.Transcript.Contains("✓ phase 2 · execute migration in", StringComparison.Ordinal)),
            "phase 2's end in the thread");
        await Task.Delay(TimeSpan.FromSeconds(2));   // the owner sweeps every second: nothing resumes it, phase 3 does not start
        Assert.Equal("Paused", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal("Migration", await state.ScalarAsync<string>("SELECT phase FROM chatops_state.deployments WHERE id = 1"));
        Assert.DoesNotContain("── phase 3 · index builds ──", setup.Bot.Transcript);
        Assert.Contains($"paused: the maintenance window ended at {end:HH:mm}Z; the running phase finished and the next does not start", await AuditAsync());

        // A person goes on outside the window: once per run, the run is not paused again at the next phases' ends.
        await setup.Bot.SayAsync("as dan", "/migrate resume D-1");
        await setup.Bot.SettleAsync();

        var transcript = setup.Bot.Transcript;
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Contains("🟢 VERDICT: SUCCESS", transcript);
        Assert.Contains("🟢 COMPLETED", (await setup.Bot.CardAsync(1))!.Status);
        Assert.Equal(1, transcript.Split("⏸️ D-1 paused: the maintenance window ended").Length - 1);
        var audit = (await AuditAsync()).Split('\n').ToList();
        Assert.Single(audit, a => a.StartsWith("paused: the maintenance window ended", StringComparison.Ordinal));
        // Phase 3 started only after the person resumed: each of these is in the audit, in this order.
        var order = new[] { "phase 2 · execute migration started", "paused: the maintenance window ended", "resumed", "phase 3 · index builds started",
            "phase 4 · validation started" }.Select(what => audit.FindIndex(a => a.StartsWith(what, StringComparison.Ordinal))).ToList();
        Assert.True(order[0] >= 0 && order.Zip(order.Skip(1)).All(p => p.First < p.Second), string.Join("\n", audit));
    }

    [Fact]
    public async Task The_window_ending_during_the_pre_deployment_checks_pauses_the_run_before_phase_1_touches_the_target()
    {
        var clock = new ShiftedClock();
        await target.ExecuteAsync("DROP TABLE IF EXISTS public.win_pre_t");
        await target.ExecuteAsync("CREATE TABLE public.win_pre_t (id int)");
        // The run reads the target's history before its checks: it exists here (an earlier run made it), so holding it holds the run.
        await using (var history = await ChatOps.Postgres.History.TargetHistory.OpenAsync(target.ConnectionString, "test", CancellationToken.None))
            await history.EnsureAsync(CancellationToken.None);
        await using var setup = await StartAsync("win_pre", sql: "ALTER TABLE public.win_pre_t ADD COLUMN note text;\n", time: clock);
        await setup.Bot.SayAsync("/migrate start win_pre --window", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        var (start, end) = await WindowOfAsync(1);
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        // Other sessions hold what the run reads: the history first (before the checks), then the table the migration alters (whose size
        // the checks read). The run's queries wait at most 5 s for a lock (TargetSession.QueryLockTimeout), so nothing slow happens while
        // it waits: both sessions are open before the run starts, the history lets go as soon as the table is held, and while the checks
        // wait for the table the test only sees them waiting, moves its clock and commits.
        await using var historyHolder = await target.OpenAsync("schema-tool");
        await using var historyHold = await historyHolder.BeginTransactionAsync();
        await using var tableHolder = await target.OpenAsync("schema-tool");
        await using var tableHold = await tableHolder.BeginTransactionAsync();
        await ExecuteAsync(historyHolder, "LOCK TABLE chatops.migration_history IN ACCESS EXCLUSIVE MODE");
        clock.Advance(start.AddSeconds(1) - clock.GetUtcNow());
        await setup.At(start.AddSeconds(1)).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);   // its checks read no history
        // The run cannot be past the history yet: the table is held before it can reach its checks.
        await ExecuteAsync(tableHolder, "LOCK TABLE public.win_pre_t IN ACCESS EXCLUSIVE MODE");
        await historyHold.CommitAsync();
        await Poll.UntilAsync(() => RunWaitsForAsync("public.win_pre_t"), "the pre-deployment checks to wait for the table", TimeSpan.FromMinutes(1));

        // The window ends while the checks run.
        clock.Advance(end - start + TimeSpan.FromMinutes(1));
        await tableHold.CommitAsync();
        await Poll.UntilAsync(async () => await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1") == "Paused"
                && setup.Bot.Transcript.Contains($"⏸️ D-1 paused: the maintenance window ended at {end:HH:mm}Z", StringComparison.Ordinal)
                && (await setup.Bot.CardAsync(1))?.Status?.Contains("⏸️ PAUSED", StringComparison.Ordinal) == true,
            "the run to pause after the checks, say so and show it on the card", TimeSpan.FromMinutes(1),
            async () => $"{await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1")}\n{setup.Bot.Transcript}");
        var transcript = setup.Bot.Transcript;
        Assert.Contains("✓ pre-deployment checks in", transcript);
        Assert.Contains("phase 1 · setup & baseline does not start", transcript);
        Assert.DoesNotContain("── phase 1 · setup & baseline ──", transcript);
        Assert.Equal("PreDeployment", await state.ScalarAsync<string>("SELECT phase FROM chatops_state.deployments WHERE id = 1"));
        // Phase 1 did not start: the run has not even begun its entry in the target's history, and the table is as it was.
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM chatops.migration_history WHERE migration = 'win_pre'"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'win_pre_t' AND column_name = 'note'"));

        // A person goes on outside the window: phase 1 starts only now, and the run completes.
        await setup.Bot.SayAsync("as dan", "/migrate resume D-1");
        await setup.Bot.SettleAsync();
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'win_pre_t' AND column_name = 'note'"));
        var audit = (await AuditAsync()).Split('\n').ToList();
        var order = new[] { "pre-deployment checks started", "paused: the maintenance window ended", "resumed", "phase 1 · setup & baseline started",
            "phase 2 · execute migration started" }.Select(what => audit.FindIndex(a => a.StartsWith(what, StringComparison.Ordinal))).ToList();
        Assert.True(order[0] >= 0 && order.Zip(order.Skip(1)).All(p => p.First < p.Second), string.Join("\n", audit));
    }

    [Fact]
    public async Task Approved_but_failing_its_pre_deployment_checks_at_the_window_s_start_it_is_postponed_saying_which_check_fails()
    {
        await target.ExecuteAsync("DROP TABLE IF EXISTS public.win_chk_renamed");
        await target.ExecuteAsync("DROP TABLE IF EXISTS public.win_chk_t");
        await target.ExecuteAsync("CREATE TABLE public.win_chk_t (id int)");
        await using var setup = await StartAsync("win_chk", sql: "ALTER TABLE public.win_chk_t ADD COLUMN note text;\n");
        await setup.Bot.SayAsync("/migrate start win_chk --window", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        var (start, _) = await WindowOfAsync(1);
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));   // the checks passed then

        // Before the window, another team's release renames the table the migration alters: the checks run again at the window's start.
        await target.ExecuteAsync("ALTER TABLE public.win_chk_t RENAME TO win_chk_renamed");
        await setup.At(start.AddSeconds(1)).RunAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), start, CancellationToken.None);
        await setup.Bot.SettleAsync(TimeSpan.FromSeconds(30));

        var next = Window.Next(start.AddSeconds(1));
        Assert.True(next.Start > start);
        Assert.Equal((next.Start, next.End), await WindowOfAsync(1));
        Assert.Equal(next.Start, await setup.Schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), CancellationToken.None));
        var transcript = setup.Bot.Transcript;
        Assert.Contains("⏸️ D-1 is postponed to the next maintenance window", transcript);
        Assert.Contains("why: pre-deployment checks failing: tables exist (public.win_chk_t does not exist in database", transcript);
        Assert.Contains(Window.Describe(next.Start), transcript);
        Assert.DoesNotContain("🪟 The maintenance window is open", transcript);
        Assert.Contains("postponed to the maintenance window", await AuditAsync());
        Assert.Equal("Approved", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));   // signed, waiting for the next window
        Assert.Empty(setup.Bot.Bot.Owner.Owned);
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name LIKE 'win_chk%' AND column_name = 'note'"));
    }

    /// <summary>Whether a session of the run on D-1 waits for a lock on <paramref name="table"/>.</summary>
    private Task<bool> RunWaitsForAsync(string table) => target.ScalarAsync<bool>("""
        SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                       WHERE NOT l.granted AND l.relation = to_regclass($1) AND a.application_name LIKE 'chatops:D-1-%')
        """, table);

    private static async Task ExecuteAsync(Npgsql.NpgsqlConnection connection, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private Task<string> AuditAsync() => state.ScalarAsync<string>(
        "SELECT string_agg(what, E'\\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");

    [Fact]
    public async Task Start_with_window_and_no_window_configured_is_refused_saying_how_to_configure_one()
    {
        await using var setup = await StartAsync("win_none", withWindow: false);

        await setup.Bot.SayAsync("/migrate start win_none --window");

        Assert.Contains("⚠️ no maintenance window is configured: set ChatOps:MaintenanceWindow:Start and End", setup.Bot.Transcript);
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.deployments"));
    }
}
