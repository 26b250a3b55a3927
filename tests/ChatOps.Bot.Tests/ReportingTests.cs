using ChatOps.Bot.Conversation;
using ChatOps.Core.Approvals;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Issue 14 through the bot on real PostgreSQL: status posts while the run goes on, post-deployment monitoring and its report, and a
/// real breach — a session holding the table makes application sessions wait until the lock-wait trigger fires — under each
/// <c>ChatOps:Thresholds:OnBreach</c> policy.
/// </summary>
public class ReportingTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>, IDisposable
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private const string Migration = "20260101_add_contact_note";
    private readonly string _migrations = Directory.CreateTempSubdirectory("chatops-reporting-").FullName;

    /// <summary>The advisory lock phase 2 of the migration passes first (its gate): <c>'RPTG'</c>.</summary>
    private const long GateKey = 0x52505447;

    public void Dispose() => Directory.Delete(_migrations, recursive: true);

    /// <summary>The lock-wait trigger on a short window: what a blocker on the target fires within seconds.</summary>
    private const string ShortLockWait = """{ "thresholds": { "app-lock-wait": { "value": 300, "for": "00:00:02" } } }""";

    /// <summary>
    /// A migration whose phase 2 first passes a gate (<see cref="MigrationGate"/>), which a test holds for as long as it needs phase 2 to go on
    /// — a blocker to arrive, a status post to be written — then alters the table; with short trigger windows (<paramref name="runbook"/>;
    /// <see cref="ShortLockWait"/> when null). Nobody holding the gate, it passes at once.
    /// </summary>
    private string Migrations(string? runbook = null)
    {
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.sql"),
            $"{MigrationGate.Statement(GateKey)}\nALTER TABLE public.contacts ADD COLUMN note text;\n");
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.rollback.sql"), "ALTER TABLE public.contacts DROP COLUMN IF EXISTS note;\n");
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.runbook.json"), runbook ?? ShortLockWait);
        return _migrations;
    }

    private static ReportingPolicy Policy(BreachPolicy onBreach, TimeSpan? askTimeout = null, TimeSpan? status = null, TimeSpan? monitorFor = null) =>
        new(new StatusCadence { Interval = status ?? TimeSpan.FromHours(1), Immediate = monitorFor / 2 ?? TimeSpan.Zero, Extended = monitorFor ?? TimeSpan.Zero },
            onBreach, askTimeout ?? TimeSpan.FromMinutes(5));

    /// <param name="time">The bot's clock (a <see cref="ShiftedClock"/> to jump far ahead); the system's when null.</param>
    private async Task<LocalBot> StartedAsync(ReportingPolicy policy, TimeProvider? time = null, TimeSpan? sampleInterval = null, string? runbook = null)
    {
        await ResetAsync();
        var bot = new LocalBot(state.ConnectionString, target.ConnectionString, Migrations(runbook: runbook), Holders,
            sampleInterval: sampleInterval ?? TimeSpan.FromMilliseconds(250), reporting: policy, time: time);
        await bot.StartAsync();
        return bot;
    }

    /// <summary>
    /// The class's databases as they were before any test. The tests share them, and a test that failed half-way must not decide how the
    /// next one goes: its deployment, left monitoring in the state database, would be taken over by the next test's bot (and rolled back by
    /// that test's breach, holding the target while that test's own rollback is refused); its migration, left applied in the target's
    /// history, would be "already applied" for the next test; its view on the new column would fail every later rollback.
    /// </summary>
    private async Task ResetAsync()
    {
        await state.ExecuteAsync($"ALTER DATABASE {target.Name} ALLOW_CONNECTIONS true");
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await target.ExecuteAsync("DROP VIEW IF EXISTS public.contact_notes");
        await target.ExecuteAsync("ALTER TABLE public.contacts DROP COLUMN IF EXISTS note");
        await target.ExecuteAsync("DROP SCHEMA IF EXISTS chatops CASCADE");   // the target's history and journal of the migration
    }

    private async Task<int> StartAndSignAsync(LocalBot bot)
    {
        var id = await state.ScalarAsync<int>("SELECT coalesce(max(id), 0) + 1 FROM chatops_state.deployments");
        await bot.SayAsync("as req", $"/migrate start {Migration}");
        Assert.True(await StateOfAsync(id) == "AwaitingApproval", bot.Transcript);
        await bot.SayAsync($"react dan ✅ D-{id}", $"react sam ✅ D-{id}", $"react olga ✅ D-{id}", $"react pete ✅ D-{id}");
        return id;
    }

    /// <summary>Whether a message containing <paramref name="text"/> was written for the channel (read from the outbox: the console is busy being written).</summary>
    private async Task<bool> PostedAsync(string text) =>
        await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE message::text LIKE '%' || $1 || '%'", text) > 0;

    private Task<string?> StateOfAsync(int id) => state.ScalarAsync<string?>("SELECT state FROM chatops_state.deployments WHERE id = $1", id);

    private async Task WaitForStateAsync(LocalBot bot, int id, string expected, TimeSpan? timeout = null) =>
        await Poll.UntilAsync(async () => await StateOfAsync(id) == expected, $"D-{id} to be {expected}", timeout ?? TimeSpan.FromMinutes(2),
            async () => $"{await StateOfAsync(id)}");

    /// <summary>
    /// A session of another application holding ACCESS EXCLUSIVE on contacts while phase 2 runs, and application sessions queued behind
    /// it: what the lock-wait trigger is for (the migration waits too, by design: it does not knock while someone is inside).
    /// </summary>
    private sealed class Blocker : IAsyncDisposable
    {
        private readonly NpgsqlConnection _holder;
        private readonly List<(NpgsqlConnection Connection, Task Query)> _waiting = [];

        private Blocker(NpgsqlConnection holder) => _holder = holder;

        public static async Task<Blocker> StartAsync(PostgresDatabase target)
        {
            var holder = await target.OpenAsync("billing-worker");
            foreach (var sql in (string[])["BEGIN", "LOCK TABLE public.contacts IN ACCESS EXCLUSIVE MODE"])
            {
                await using var command = new NpgsqlCommand(sql, holder);
                await command.ExecuteNonQueryAsync();
            }
            var blocker = new Blocker(holder);
            for (var i = 0; i < 3; i++)
            {
                var app = await target.OpenAsync("demo-app");
                var query = new NpgsqlCommand("SELECT count(*) FROM public.contacts", app) { CommandTimeout = 0 };
                blocker._waiting.Add((app, query.ExecuteScalarAsync()));
            }
            return blocker;
        }

        private bool _released;

        public async ValueTask DisposeAsync()
        {
            if (_released)
                return;
            _released = true;
            await using (var commit = new NpgsqlCommand("COMMIT", _holder))
                await commit.ExecuteNonQueryAsync();
            await _holder.DisposeAsync();
            foreach (var (connection, query) in _waiting)
            {
                await query;
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Closes phase 2's gate (<see cref="Migrations"/>): the run waits there from when it gets there until the test opens it.</summary>
    private Task<MigrationGate> CloseGateAsync() => MigrationGate.CloseAsync(target, GateKey);

    /// <summary>Phase 2 of <paramref name="id"/> waits at the gate (its session waits for the advisory lock the test holds).</summary>
    private Task AtTheGateAsync(MigrationGate gate, int id) =>
        gate.ReachedAsync($"chatops:D-{id}-%", $"D-{id}'s phase 2 to wait at the gate", lastSeen: async () => $"{await StateOfAsync(id)}");

    /// <summary>With phase 2 held at the gate, the blocker takes the table; then the gate opens, and the migration's ALTER waits for the blocker.</summary>
    private async Task<Blocker> BlockDuringPhase2Async(MigrationGate gate, int id)
    {
        await AtTheGateAsync(gate, id);
        var blocker = await Blocker.StartAsync(target);
        await gate.DisposeAsync();
        return blocker;
    }

    /// <summary>Post-deployment monitoring samples the target: its sampler's session is there.</summary>
    private Task MonitoringSamplesAsync(int id) =>
        Poll.UntilAsync(async () => await target.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", MonitoringSampler(id)) > 0,
            $"D-{id}'s post-deployment monitoring to sample the target", TimeSpan.FromMinutes(1));

    private static string MonitoringSampler(int id) => $"chatops:D-{id}-monitor:sampler";

    /// <summary>
    /// The message in the transcript that begins with <paramref name="title"/>, once printed: its id (<c>L1003</c>) and its text; it was
    /// posted in the channel, not in a thread.
    /// </summary>
    private static async Task<(string Id, string Text)> InChannelAsync(LocalBot bot, string title)
    {
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        var transcript = bot.Transcript;
        var at = transcript.IndexOf(title, StringComparison.Ordinal);
        Assert.True(at >= 0, $"“{title}” is not in the transcript:\n{transcript}");
        var header = transcript.LastIndexOf("── #local · message ", at, StringComparison.Ordinal);
        Assert.True(header >= 0 && !transcript[header..at].Contains("in thread", StringComparison.Ordinal), transcript[header..at]);
        var id = System.Text.RegularExpressions.Regex.Match(transcript[header..], @"message (L\d+)").Groups[1].Value;
        var end = transcript.IndexOf("\n──", at, StringComparison.Ordinal);
        var next = transcript.IndexOf("\n  ↳", at, StringComparison.Ordinal);
        end = new[] { end, next, transcript.Length }.Where(i => i >= 0).Min();
        return (id, transcript[at..end]);
    }

    /// <summary>Whether a status post in <paramref name="id"/>'s thread said <paramref name="said"/> (read from the outbox).</summary>
    private async Task<bool> StatusPostedAsync(int id, string said) => await state.ScalarAsync<long>(
        "SELECT count(*) FROM chatops_state.outbox WHERE deployment = $1 AND message::text LIKE '%' || $2 || '%' AND message::text LIKE '%' || $3 || '%'",
        id, $"📊 D-{id} · status", said) > 0;

    /// <summary>Whether <paramref name="id"/>'s card was ever edited to show <paramref name="text"/> (read from the outbox: the card may have moved on).</summary>
    private async Task<bool> CardShowedAsync(int id, string text) => await state.ScalarAsync<long>(
        "SELECT count(*) FROM chatops_state.outbox WHERE deployment = $1 AND kind = 'Edit' AND message::text LIKE '%' || $2 || '%'", id, text) > 0;

    private async Task<bool> ColumnExistsAsync() =>
        await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'note'") == 1;

    [Fact]
    public async Task Ask_a_breach_alerts_the_channel_mentioning_the_on_call_roles_and_the_rollback_emoji_rolls_back()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask));
        await using var gate = await CloseGateAsync();
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(gate, id);
        await Poll.UntilAsync(() => PostedAsync($"🚨 D-{id}"), "the alert", TimeSpan.FromMinutes(1), async () => $"{await StateOfAsync(id)}");
        // In the channel (not the thread), calling on the DBA and the DevOps/SRE Lead, with the readings over the window; the alert is the
        // prompt: the bot's own ⏪ on it is there to click.
        var (message, alert) = await InChannelAsync(bot, $"🚨 D-{id}");
        Assert.Contains("application lock wait > 300 ms for 2 s", alert);
        Assert.Contains("@Database Administrator (dan) @DevOps/SRE Lead (olga)", alert);
        // Every reading of the window, in order, each over the trigger's 300 ms (one sample every 250 ms over 2 s: several).
        var readings = System.Text.RegularExpressions.Regex.Match(alert, @"readings: (.+) over \S+ s").Groups[1].Value;
        var values = System.Text.RegularExpressions.Regex.Matches(readings, @"(\d+) ms").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(values.Count >= 3 && values.All(v => v > 300), alert);
        Assert.Contains($"⏪ bot reacted on {message}", bot.Transcript);
        Assert.Equal("Running", await StateOfAsync(id));   // asking is not rolling back

        await bot.SayAsync("as olga", $"react olga ⏪ {message}");   // the DevOps/SRE Lead answers, on the alert
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
        Assert.True(await PostedAsync($"⏪ D-{id}: rolled back and verified"));
        Assert.DoesNotContain("rolling back by itself", await AuditAsync(id));
    }

    [Fact]
    public async Task Ask_unanswered_the_bot_rolls_back_by_itself_when_the_ask_timeout_lapses_and_says_so()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, askTimeout: TimeSpan.FromSeconds(3)));
        await using var gate = await CloseGateAsync();
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(gate, id);
        await Poll.UntilAsync(async () => await StateOfAsync(id) == "RollingBack", "the bot to roll back by itself", TimeSpan.FromMinutes(1),
            async () => $"{await StateOfAsync(id)}");
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
        Assert.Contains("nobody answered the rollback prompt within 3.0 s", await AuditAsync(id));
        Assert.True(await PostedAsync("nobody answered"));
    }

    [Fact]
    public async Task Alert_only_tells_nothing_is_rolled_back_and_a_recovered_trigger_is_announced()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Alert));
        await using var gate = await CloseGateAsync();
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(gate, id);
        await Poll.UntilAsync(() => PostedAsync($"🚨 D-{id}"), "the alert", TimeSpan.FromMinutes(1), async () => $"{await StateOfAsync(id)}");
        await blocker.DisposeAsync();
        await bot.SettleAsync();
        var state = await StateOfAsync(id);
        // The engine's verdict counts the trigger (Failed), and nothing rolled back by itself; a person may still roll back.
        Assert.Equal("Failed", state);
        Assert.True(await ColumnExistsAsync());
        Assert.DoesNotContain("rolling back by itself", await AuditAsync(id));
        Assert.Contains($"✅ D-{id}: recovered · ", bot.Transcript);   // once the blocker went, in the channel
        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
    }

    [Fact]
    public async Task Rollback_policy_rolls_back_at_once_when_the_trigger_fires()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Rollback));
        await using var gate = await CloseGateAsync();
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(gate, id);
        await Poll.UntilAsync(async () => await StateOfAsync(id) == "RollingBack", "the rollback", TimeSpan.FromMinutes(1),
            async () => $"{await StateOfAsync(id)}");
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.deployments WHERE id = $1 AND rollback_prompt IS NOT NULL", id));   // no question asked
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.Contains("rolling back by itself: rollback trigger: application lock wait > 300 ms", await AuditAsync(id));
    }

    [Fact]
    public async Task Status_is_posted_in_the_thread_while_running_then_post_deployment_monitoring_ends_with_the_performance_report()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, status: TimeSpan.FromSeconds(1), monitorFor: TimeSpan.FromSeconds(6)));
        int id;
        await using (var gate = await CloseGateAsync())
        {
            id = await StartAndSignAsync(bot);
            await AtTheGateAsync(gate, id);
            // Phase 2 waits at its gate until a status post in the thread has said the deployment is running.
            await Poll.UntilAsync(() => StatusPostedAsync(id, "▶️ RUNNING"), "a status post while it runs", TimeSpan.FromMinutes(1));
        }
        await WaitForStateAsync(bot, id, "Monitoring");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        Assert.Contains("Post-deployment monitoring until", bot.Transcript);
        // The card said so while it monitored: read from what was written for the channel, since 6 s of monitoring may be over by now.
        Assert.True(await CardShowedAsync(id, "DEPLOYED · post-deployment monitoring"), (await bot.CardAsync(id))?.Status);
        await WaitForStateAsync(bot, id, "Completed", TimeSpan.FromSeconds(60));
        await bot.SettleAsync();
        var transcript = bot.Transcript;
        // Status posts in the thread during the run and during monitoring, each saying which it is.
        var statuses = transcript.Split('\n').Where(l => l.Contains($"📊 D-{id}", StringComparison.Ordinal)).ToList();
        Assert.True(statuses.Count >= 3, $"{statuses.Count} status posts\n{transcript}");
        Assert.Contains(statuses, l => l.Contains("▶️ RUNNING", StringComparison.Ordinal));
        Assert.Contains(statuses, l => l.Contains("👀 POST-DEPLOYMENT MONITORING", StringComparison.Ordinal));
        Assert.Contains("post-deployment monitoring · ", transcript);   // the monitoring post's phase line: how far it is, and until when
        // The cadence as it is: every second for the first 3 s, then hourly — and no hour fits in the 6 s before the report.
        Assert.Contains("status every 1 s for 3 s, then none until the report at 6 s", transcript);
        Assert.Contains("longest app lock wait", transcript);
        Assert.Contains($"📈 D-{id}", transcript);
        Assert.Contains("lessons learned", transcript);
        Assert.Contains("COMPLETED", (await bot.CardAsync(id))!.Status);
        Assert.Contains("post-deployment monitoring ended", await AuditAsync(id));
        // Lessons learned: a reply in the card's thread is kept in the audit trail (and `history` shows it).
        await bot.SayAsync($"reply dan D-{id} went well: the lock waits stayed at 0 ms", "as dan", $"/migrate history D-{id}");
        Assert.Contains("dan: in the thread: went well: the lock waits stayed at 0 ms", await AuditAsync(id));
        Assert.Contains("dan: in the thread: went well: the lock waits stayed at 0 ms", bot.Transcript);
        // The last status has the cadence kept in the state database (a replica taking over goes on from it).
        Assert.NotNull(await state.ScalarAsync<DateTime?>("SELECT status_posted_at FROM chatops_state.deployments WHERE id = $1", id));
        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
    }

    [Fact]
    public async Task A_rollback_that_fails_on_a_dependent_object_is_rollback_failed_with_an_alert_saying_what_to_do_and_can_be_asked_again()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask));
        var id = await StartAndSignAsync(bot);
        await WaitForStateAsync(bot, id, "Completed");
        // Meanwhile someone built on the new column: the rollback's DROP COLUMN cannot go.
        await using (var connection = await target.OpenAsync("dev"))
        await using (var view = new NpgsqlCommand("CREATE VIEW public.contact_notes AS SELECT id, note FROM public.contacts", connection))
            await view.ExecuteNonQueryAsync();

        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RollbackFailed");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        var (_, alert) = await InChannelAsync(bot, $"🚨 D-{id}: ROLLBACK FAILED");
        // The failing step — which statement of the rollback, where, what — and PostgreSQL's error, in the alert and in the audit.
        const string step = "#1 line 1 (ALTER TABLE public.contacts DROP COLUMN IF EXISTS note)";
        Assert.Contains($"the rollback failed: step {step} failed: cannot drop column note of table contacts because other objects depend on it", alert);
        Assert.Contains($"failing step: {step} of {Migration}.rollback.sql", alert);
        Assert.Contains($"rollback failed: step {step} failed: cannot drop column note of table contacts because other objects depend on it", await AuditAsync(id));
        Assert.Contains("@Database Administrator (dan) @DevOps/SRE Lead (olga)", alert);
        Assert.Contains("What to do: read the failing step", alert);
        Assert.Contains("ROLLBACK FAILED", (await bot.CardAsync(id))!.Status);
        Assert.True(await ColumnExistsAsync());

        // Fixed, it is asked again and rolls back.
        await using (var connection = await target.OpenAsync("dev"))
        await using (var drop = new NpgsqlCommand("DROP VIEW public.contact_notes", connection))
            await drop.ExecuteNonQueryAsync();
        await bot.SayAsync($"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
    }

    [Fact]
    public async Task Status_posts_go_on_while_the_deployment_is_paused_and_say_so()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Alert, status: TimeSpan.FromSeconds(1)));
        int id;
        bool PausedStatus(string line) => line.Contains($"📊 D-{id} · status", StringComparison.Ordinal) && line.Contains("⏸️ PAUSED", StringComparison.Ordinal);
        await using (var gate = await CloseGateAsync())
        {
            id = await StartAndSignAsync(bot);
            await AtTheGateAsync(gate, id);
            await bot.SayAsync("as dan", $"/migrate pause D-{id}");   // phase 2 held at its gate: the ALTER after it does not start
            Assert.Equal("Paused", await StateOfAsync(id));

            // Every second a post, each saying it is paused and how to go on. The gate stays closed meanwhile: seconds in which the owner
            // (woken by the pause, and sweeping every second) has told the run to stop at its next statement boundary.
            await Poll.UntilAsync(() => Task.FromResult(bot.Transcript.Split('\n').Count(PausedStatus) >= 3), "three status posts while paused", TimeSpan.FromMinutes(1));
        }
        // The gate open, the run stops at the boundary after it, before the ALTER, and says so.
        await Poll.UntilAsync(() => Task.FromResult(bot.Transcript.Contains("⏸️ paused before #2 line 2", StringComparison.Ordinal)), "the run to stop before the ALTER",
            TimeSpan.FromMinutes(1), () => Task.FromResult(bot.Transcript));
        Assert.Contains($"next: paused: /migrate resume D-{id} to continue, /migrate rollback D-{id} to roll back", bot.Transcript);
        Assert.Equal("Paused", await StateOfAsync(id));
        Assert.False(await ColumnExistsAsync());

        await bot.SayAsync("as dan", $"/migrate resume D-{id}");
        await WaitForStateAsync(bot, id, "Completed");
        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
    }

    [Fact]
    public async Task Ask_with_a_zero_timeout_waits_for_a_person_however_long_it_takes()
    {
        // The bot's wall clock jumps two days past the alert; its timers stay real.
        var clock = new ShiftedClock();
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, askTimeout: TimeSpan.Zero), clock);
        await using var gate = await CloseGateAsync();
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(gate, id);
        await Poll.UntilAsync(async () => await PostedAsync($"🚨 D-{id}") && await PromptOpenAsync(id), "the alert and its prompt", TimeSpan.FromMinutes(1),
            async () => $"{await StateOfAsync(id)}");
        var (message, alert) = await InChannelAsync(bot, $"🚨 D-{id}");
        Assert.Contains("the bot waits for a person (ChatOps:Thresholds:AskTimeout is 0)", alert);

        var jumped = clock.GetUtcNow() + TimeSpan.FromDays(2);
        clock.Advance(TimeSpan.FromDays(2));
        // What the owner's sweep does every second — roll back where a prompt lapsed — finds nothing lapsed two days on …
        Assert.False(await bot.Bot.Reporter.RollBackLapsedAsync(CancellationToken.None));
        // … and the bot's own loops, on the new clock (the hourly status post is overdue: it is posted), leave it running, asking.
        await Poll.UntilAsync(() => state.ScalarAsync<bool>("SELECT coalesce(status_posted_at >= $2, false) FROM chatops_state.deployments WHERE id = $1", id, jumped),
            "a status post on the jumped clock", TimeSpan.FromMinutes(1));
        Assert.False(await bot.Bot.Reporter.RollBackLapsedAsync(CancellationToken.None));
        Assert.Equal("Running", await StateOfAsync(id));
        Assert.True(await PromptOpenAsync(id));
        Assert.DoesNotContain("nobody answered", await AuditAsync(id));
        Assert.Equal(0L, await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.outbox WHERE deployment = $1 AND message::text LIKE '%nobody answered%'", id));

        // The prompt still answers: the DevOps/SRE Lead's ⏪ rolls back.
        await bot.SayAsync("as olga", $"react olga ⏪ {message}");
        await Poll.UntilAsync(async () => await StateOfAsync(id) is "RollingBack" or "RolledBack", "the rollback", TimeSpan.FromMinutes(1));
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
    }

    [Fact]
    public async Task A_breach_during_post_deployment_monitoring_alerts_the_channel_and_rolls_back_counting_every_blocked_application_session()
    {
        // The blocked-sessions trigger on a short window, the lock-wait one out of reach: after the deployment no session of the migration
        // is left, so only sessions blocked by anything can fire it.
        await using var bot = await StartedAsync(Policy(BreachPolicy.Rollback, monitorFor: TimeSpan.FromMinutes(10)),
            runbook: """{ "thresholds": { "blocked-sessions": { "value": 2, "for": "00:00:02" }, "app-lock-wait": { "value": 600000, "for": "01:00:00" } } }""");
        var id = await StartAndSignAsync(bot);
        await WaitForStateAsync(bot, id, "Monitoring");
        await MonitoringSamplesAsync(id);
        Assert.True(await ColumnExistsAsync());

        // Another application holds the table; three of its sessions queue behind it.
        await using (await Blocker.StartAsync(target))
        {
            await Poll.UntilAsync(async () => await StateOfAsync(id) is "RollingBack" or "RolledBack", "the trigger to fire and the bot to roll back",
                TimeSpan.FromMinutes(1), async () => $"{await StateOfAsync(id)}");
        }
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());

        // After the deployment the rule counts every blocked application session, and says so (not "blocked by the migration").
        var (_, alert) = await InChannelAsync(bot, $"🚨 D-{id}: rollback trigger blocked application sessions > 2 for 2 s");
        Assert.Contains("counted: after the deployment every blocked application session counts", alert);
        Assert.Contains("@Database Administrator (dan) @DevOps/SRE Lead (olga)", alert);
        Assert.Contains("rolling back now (ChatOps:Thresholds:OnBreach = rollback)", alert);
        var transcript = bot.Transcript;
        Assert.True(transcript.IndexOf("Post-deployment monitoring until", StringComparison.Ordinal) < transcript.IndexOf($"🚨 D-{id}", StringComparison.Ordinal), transcript);
        var audit = (await AuditAsync(id)).Split('\n').ToList();
        var monitoring = audit.FindIndex(a => a.Contains("verdict: success (Running → Monitoring)", StringComparison.Ordinal));
        var rolling = audit.FindIndex(a => a.Contains("rolling back by itself: rollback trigger: blocked application sessions > 2", StringComparison.Ordinal));
        Assert.True(monitoring >= 0 && rolling > monitoring, string.Join("\n", audit));
    }

    [Fact]
    public async Task After_the_deployment_the_error_rate_trigger_compares_the_application_s_rollbacks_with_the_baseline()
    {
        // Samples 1.5 s apart: each interval sees the failing application's statistics (a busy backend reports them about once a second).
        await using var bot = await StartedAsync(Policy(BreachPolicy.Alert, monitorFor: TimeSpan.FromMinutes(10)), sampleInterval: TimeSpan.FromSeconds(1.5),
            runbook: """{ "thresholds": { "error-rate": { "value": 5, "for": "00:00:02" } } }""");
        var id = await StartAndSignAsync(bot);
        await WaitForStateAsync(bot, id, "Monitoring");
        await MonitoringSamplesAsync(id);

        // The application starts failing: every transaction it tries reads a table and rolls back (a backend reports its transaction counts
        // with its table statistics: one that touched no table would not show in pg_stat_database for a while).
        using var stop = new CancellationTokenSource();
        var failing = Task.Run(async () =>
        {
            await using var app = await target.OpenAsync("crm-web");
            while (!stop.IsCancellationRequested)
            {
                await using var command = new NpgsqlCommand("SELECT count(*) / (count(*) - count(*)) FROM public.organizations", app);
                try
                {
                    await command.ExecuteScalarAsync(CancellationToken.None);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DivisionByZero)
                {
                }
            }
        });
        try
        {
            await Poll.UntilAsync(() => PostedAsync($"🚨 D-{id}: rollback trigger rollback-ratio increase > 5 pts for 2 s"), "the error-rate trigger to fire",
                TimeSpan.FromMinutes(1), async () => $"{await StateOfAsync(id)}");
        }
        finally
        {
            await stop.CancelAsync();
            await failing;
        }
        var (_, alert) = await InChannelAsync(bot, $"🚨 D-{id}: rollback trigger rollback-ratio increase");
        Assert.Contains("no automatic action (ChatOps:Thresholds:OnBreach = alert)", alert);
        Assert.Equal("Monitoring", await StateOfAsync(id));
        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
    }

    [Fact]
    public async Task Monitoring_that_cannot_sample_the_target_is_alerted_as_degraded_in_the_channel()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, monitorFor: TimeSpan.FromMinutes(10)));
        var id = await StartAndSignAsync(bot);
        await WaitForStateAsync(bot, id, "Monitoring");
        await MonitoringSamplesAsync(id);

        // A DBA closes the target database to new sessions and ends the bot's monitoring session: every sample from then on fails. The
        // database opens again however the test goes (the class's next tests use it; ResetAsync opens it too).
        try
        {
            await state.ExecuteAsync($"ALTER DATABASE {target.Name} ALLOW_CONNECTIONS false");
            await state.ScalarAsync<bool>("SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", MonitoringSampler(id));
            await Poll.UntilAsync(() => PostedAsync($"⚠️ D-{id}: monitoring degraded"), "the degraded alert", TimeSpan.FromMinutes(1),
                async () => $"{await StateOfAsync(id)}");
        }
        finally
        {
            await state.ExecuteAsync($"ALTER DATABASE {target.Name} ALLOW_CONNECTIONS true");
        }
        var (_, alert) = await InChannelAsync(bot, $"⚠️ D-{id}: monitoring degraded — no samples for");
        Assert.Contains("the rollback triggers cannot see", alert);
        // Why: what the target said to the sampler. Which error comes first depends on timing — the terminated session's own (on the wire or
        // as Npgsql saw the connection break), or the refused reconnection — and each is the real reason.
        Assert.Matches(@"why: [^\n]*(not currently accepting connections|terminating connection due to administrator command|Exception while (reading from|writing to) stream|connection was previously broken|Connection is not open)", alert);
        Assert.Contains("@Database Administrator (dan) @DevOps/SRE Lead (olga)", alert);
        Assert.Equal("Monitoring", await StateOfAsync(id));
        await bot.SayAsync("as dan", $"/migrate rollback D-{id} --confirm");
        await WaitForStateAsync(bot, id, "RolledBack");
    }

    private async Task<bool> PromptOpenAsync(int id) =>
        await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.deployments WHERE id = $1 AND rollback_prompt IS NOT NULL", id) == 1;

    private Task<string> AuditAsync(int id) => state.ScalarAsync<string>(
        "SELECT string_agg(who || ': ' || what, E'\\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = $1", id);
}
