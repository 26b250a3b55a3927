using ChatOps.Bot.Conversation;
using ChatOps.Bot.Local;
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
    private static int _nextMessage;

    public void Dispose() => Directory.Delete(_migrations, recursive: true);

    /// <summary>A migration whose phase 2 takes a few seconds before it alters the table (time for a blocker to arrive), with short trigger windows.</summary>
    private string Migrations(double sleepSeconds = 3)
    {
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.sql"),
            $"SELECT pg_sleep({sleepSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)});\nALTER TABLE public.contacts ADD COLUMN note text;\n");
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.rollback.sql"), "ALTER TABLE public.contacts DROP COLUMN IF EXISTS note;\n");
        File.WriteAllText(Path.Combine(_migrations, $"{Migration}.runbook.json"), """
            { "thresholds": { "app-lock-wait": { "value": 300, "for": "00:00:02" } } }
            """);
        return _migrations;
    }

    private static ReportingPolicy Policy(BreachPolicy onBreach, TimeSpan? askTimeout = null, TimeSpan? status = null, TimeSpan? monitorFor = null) =>
        new(new StatusCadence { Interval = status ?? TimeSpan.FromHours(1), Immediate = monitorFor / 2 ?? TimeSpan.Zero, Extended = monitorFor ?? TimeSpan.Zero },
            onBreach, askTimeout ?? TimeSpan.FromMinutes(5));

    private async Task<LocalBot> StartedAsync(ReportingPolicy policy)
    {
        // The tests share a state database, each with its own console: what an earlier test's channel never got (a status post
        // written as its bot stopped) is not this console's to send.
        await using (var connection = await state.OpenAsync())
        await using (var forget = new NpgsqlCommand("UPDATE chatops_state.outbox SET parked_at = now(), last_error = 'an earlier test' WHERE sent_at IS NULL AND parked_at IS NULL", connection))
        {
            try
            {
                await forget.ExecuteNonQueryAsync();
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // the first test: no state schema yet
            }
        }
        // Its console numbers messages on from the earlier tests' (as serve does from the outbox): a reaction on "L7" is on this test's L7.
        var output = new StringWriter();
        var bot = new LocalBot(state.ConnectionString, target.ConnectionString, Migrations(), Holders, sampleInterval: TimeSpan.FromMilliseconds(250), reporting: policy,
            output: output, channel: new LocalChannel(output, Interlocked.Add(ref _nextMessage, 1000)));
        await bot.StartAsync();
        return bot;
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

    private async Task<Blocker> BlockDuringPhase2Async(LocalBot bot, int id)
    {
        await Poll.UntilAsync(async () => await state.ScalarAsync<string?>("SELECT coalesce(phase, '') FROM chatops_state.deployments WHERE id = $1", id) == nameof(RunbookPhase.Migration),
            $"D-{id} to reach phase 2", TimeSpan.FromMinutes(2), async () => $"{await StateOfAsync(id)}");
        return await Blocker.StartAsync(target);
    }

    private async Task<bool> ColumnExistsAsync() =>
        await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'note'") == 1;

    [LocalPostgresFact]
    public async Task Ask_a_breach_alerts_the_channel_mentioning_the_on_call_roles_and_the_rollback_emoji_rolls_back()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask));
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(bot, id);
        await Poll.UntilAsync(() => PostedAsync($"🚨 D-{id}"), "the alert", TimeSpan.FromMinutes(1), async () => $"{await StateOfAsync(id)}");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        var transcript = bot.Transcript;
        // In the channel (not the thread), calling on the DBA and the DevOps/SRE Lead, with the readings over the window; the alert is the
        // prompt: the bot's own ⏪ on it is there to click.
        var at = transcript.IndexOf($"🚨 D-{id}", StringComparison.Ordinal);
        var header = transcript.LastIndexOf("── #local · message ", at, StringComparison.Ordinal);
        Assert.True(header >= 0 && !transcript[header..at].Contains("in thread", StringComparison.Ordinal), transcript[header..at]);
        var message = System.Text.RegularExpressions.Regex.Match(transcript[header..], @"message (L\d+)").Groups[1].Value;
        var alert = transcript[at..];
        Assert.Contains("application lock wait", alert);
        Assert.Contains("300 ms", alert);
        Assert.Contains("@Database Administrator", alert);
        Assert.Contains("@DevOps/SRE Lead", alert);
        Assert.Contains($"⏪ bot reacted on {message}", transcript);
        Assert.Equal("Running", await StateOfAsync(id));   // asking is not rolling back

        await bot.SayAsync("as olga", $"react olga ⏪ {message}");   // the DevOps/SRE Lead answers, on the alert
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
        Assert.True(await PostedAsync($"⏪ D-{id}: rolled back and verified"));
        Assert.DoesNotContain("rolling back by itself", await AuditAsync(id));
    }

    [LocalPostgresFact]
    public async Task Ask_unanswered_the_bot_rolls_back_by_itself_when_the_ask_timeout_lapses_and_says_so()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, askTimeout: TimeSpan.FromSeconds(3)));
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(bot, id);
        await Poll.UntilAsync(async () => await StateOfAsync(id) == "RollingBack", "the bot to roll back by itself", TimeSpan.FromMinutes(1),
            async () => $"{await StateOfAsync(id)}");
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.False(await ColumnExistsAsync());
        Assert.Contains("nobody answered the rollback prompt within 3.0 s", await AuditAsync(id));
        Assert.True(await PostedAsync("nobody answered"));
    }

    [LocalPostgresFact]
    public async Task Alert_only_tells_nothing_is_rolled_back_and_a_recovered_trigger_is_announced()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Alert));
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(bot, id);
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

    [LocalPostgresFact]
    public async Task Rollback_policy_rolls_back_at_once_when_the_trigger_fires()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Rollback));
        var id = await StartAndSignAsync(bot);
        await using var blocker = await BlockDuringPhase2Async(bot, id);
        await Poll.UntilAsync(async () => await StateOfAsync(id) == "RollingBack", "the rollback", TimeSpan.FromMinutes(1),
            async () => $"{await StateOfAsync(id)}");
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.deployments WHERE id = $1 AND rollback_prompt IS NOT NULL", id));   // no question asked
        await blocker.DisposeAsync();
        await WaitForStateAsync(bot, id, "RolledBack");
        Assert.Contains("rolling back by itself: rollback trigger: application lock wait > 300 ms", await AuditAsync(id));
    }

    [LocalPostgresFact]
    public async Task Status_is_posted_in_the_thread_while_running_then_post_deployment_monitoring_ends_with_the_performance_report()
    {
        await using var bot = await StartedAsync(Policy(BreachPolicy.Ask, status: TimeSpan.FromSeconds(1), monitorFor: TimeSpan.FromSeconds(6)));
        var id = await StartAndSignAsync(bot);
        await WaitForStateAsync(bot, id, "Monitoring");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        Assert.Contains("Post-deployment monitoring until", bot.Transcript);
        Assert.Contains("DEPLOYED · post-deployment monitoring", (await bot.CardAsync(id))!.Status);
        await WaitForStateAsync(bot, id, "Completed", TimeSpan.FromSeconds(60));
        await bot.SettleAsync();
        var transcript = bot.Transcript;
        // Status posts in the thread during the run (phase 2's sleep alone is 3 s) and during monitoring.
        var statuses = transcript.Split('\n').Count(l => l.Contains($"📊 D-{id}", StringComparison.Ordinal));
        Assert.True(statuses >= 3, $"{statuses} status posts\n{transcript}");
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

    [LocalPostgresFact]
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
        var transcript = bot.Transcript;
        var alert = transcript[transcript.IndexOf($"🚨 D-{id}: ROLLBACK FAILED", StringComparison.Ordinal)..];
        Assert.Contains("cannot drop column note of table contacts because other objects depend on it", alert);   // the failing step's error
        Assert.Contains("@Database Administrator holders @DevOps/SRE Lead holders", alert);
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

    private Task<string> AuditAsync(int id) => state.ScalarAsync<string>(
        "SELECT string_agg(who || ': ' || what, E'\\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = $1", id);
}
