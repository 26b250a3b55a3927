using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>A platform that fails on purpose: the first calls, or every call (a hand-written fake of our own port, around the local channel).</summary>
internal sealed class FailingChannel(LocalChannel inner, int failFirst, bool always = false) : WrappedChannel(inner)
{
    private int _calls;

    protected override void BeforeCall()
    {
        if (always || Interlocked.Increment(ref _calls) <= failFirst)
            throw new HttpRequestException("503 Service Unavailable (on purpose)");
    }
}

/// <summary>Nothing lost, nothing done twice: the inbox, the outbox, and deployments surviving their replica.</summary>
public class DurableStateTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private async Task ResetStateAsync() => await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");

    /// <summary>Holds the inbox as another replica handling it would (its advisory lock, in a transaction) until disposed.</summary>
    private async Task<IAsyncDisposable> HoldInboxAsync()
    {
        var connection = new Npgsql.NpgsqlConnection(state.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("SELECT pg_advisory_xact_lock(1128810830)", connection, transaction))   // 'CHIN', the handler's lock
            await hold.ExecuteNonQueryAsync();
        return new Held(transaction, connection);
    }

    private sealed class Held(Npgsql.NpgsqlTransaction transaction, Npgsql.NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.CommitAsync();
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_same_event_delivered_twice_and_concurrently_is_handled_once()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("dup_add", "CREATE TABLE dup_done (id int);\n", rollback: "DROP TABLE IF EXISTS dup_done;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start dup_add");
        var card = bot.Bot.Conductors["Local"].CardOf(new(1))!;

        // One reaction, delivered eight times at once (a platform retrying while the first is still in flight), then once more later.
        var reaction = new ReactionAdded("dan", card, ReactionEmoji.SignOff, "✅", "Ev-dan-1");
        var accepted = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bot.Bot.Inbox.For("Local").AcceptAsync(reaction, CancellationToken.None)));
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        Assert.False(await bot.Bot.Inbox.For("Local").AcceptAsync(reaction, CancellationToken.None));

        Assert.Equal(1, accepted.Count(a => a));
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.inbox WHERE event_id = 'Ev-dan-1'"));
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = 1 AND who = 'dan'"));
        Assert.Equal((1L, 8L), bot.Bot.Inbox.Counts with { Accepted = bot.Bot.Inbox.Counts.Accepted - 1 });   // the start command was the other one
    }

    [Fact]
    public async Task A_burst_of_reactions_with_redeliveries_is_kept_once_each_and_handled_in_batches_each_with_its_own_outcome()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("burst_add", "CREATE TABLE burst_done (id int);\n", rollback: "DROP TABLE IF EXISTS burst_done;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start burst_add");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        var card = bot.Bot.Conductors["Local"].CardOf(new(1))!;
        var editsBefore = await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE kind = 'Edit'");

        // 300 people holding no role react at once; 30 of the reactions are delivered a second time among them.
        var reactions = Enumerable.Range(1, 300).Select(i => new ReactionAdded($"watcher{i}", card, ReactionEmoji.SignOff, "✅", $"Ev-burst-{i}")).ToList();
        var deliveries = reactions.Concat(reactions.Where((_, i) => i % 10 == 0)).OrderBy(r => r.EventId.GetHashCode(StringComparison.Ordinal)).ToList();
        var inbox = bot.Bot.Inbox.For("Local");
        bool[] kept;
        await using (await HoldInboxAsync())
            kept = await Task.WhenAll(deliveries.Select(r => Task.Run(() => inbox.AcceptAsync(r, CancellationToken.None))));
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        Assert.Equal(300, kept.Count(k => k));
        Assert.Equal(300, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-burst-%'"));
        // Each handled once, with its own outcome and its own audit line.
        Assert.Equal(300, await state.ScalarAsync<int>(
            "SELECT count(*)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-burst-%' AND handled_at IS NOT NULL AND outcome = 'watcher' || substr(event_id, 10) || ' holds none of the four roles'"));
        Assert.Equal(300, await state.ScalarAsync<int>(
            "SELECT count(DISTINCT who)::int FROM chatops_state.audit_events WHERE deployment = 1 AND who LIKE 'watcher%' AND what = 'sign-off: ' || who || ' holds none of the four roles'"));
        Assert.Equal(300, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = 1 AND who LIKE 'watcher%'"));
        // Handled in batches (one transaction marks a batch at one time: 300 waiting events make 3), and the card, which none of them
        // changed, was not edited.
        Assert.Equal(3, await state.ScalarAsync<int>("SELECT count(DISTINCT handled_at)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-burst-%'"));
        Assert.Equal(editsBefore, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE kind = 'Edit'"));
    }

    [Fact]
    public async Task An_event_that_fails_inside_a_batch_fails_alone_and_the_others_are_handled()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("poison_add", "CREATE TABLE poison_done (id int);\n", rollback: "DROP TABLE IF EXISTS poison_done;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start poison_add");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        var card = bot.Bot.Conductors["Local"].CardOf(new(1))!;
        // The state database refuses one person's audit line: handling their reaction fails (a real error, from PostgreSQL).
        await state.ExecuteAsync("ALTER TABLE chatops_state.audit_events ADD CONSTRAINT no_mallory CHECK (who <> 'mallory')");

        var reactions = Enumerable.Range(1, 40).Select(i => new ReactionAdded(i == 20 ? "mallory" : $"bystander{i}", card, ReactionEmoji.SignOff, "✅", $"Ev-poison-{i}")).ToList();
        // Kept while "another replica" holds the inbox, handled after: the handler finds them waiting together and takes them as one batch.
        await using (await HoldInboxAsync())
            foreach (var r in reactions)
                Assert.True(await bot.Bot.Inbox.For("Local").AcceptAsync(r, CancellationToken.None));
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        Assert.Equal(39, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = 1 AND who LIKE 'bystander%'"));
        Assert.Equal(0, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-poison-%' AND handled_at IS NULL"));
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-poison-%' AND outcome LIKE 'failed: %no_mallory%'"));
        Assert.Equal("Ev-poison-20", await state.ScalarAsync<string>("SELECT event_id FROM chatops_state.inbox WHERE outcome LIKE 'failed: %'"));
        // Only the one that failed counted a failed attempt: the others were taken again one by one, not blamed.
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.inbox WHERE event_id LIKE 'Ev-poison-%' AND attempts > 0"));
        // mallory is told it did not work.
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE kind = 'Private' AND message::text LIKE '%that did not work%'"));
    }

    [Fact]
    public async Task An_event_of_a_platform_this_replica_does_not_serve_waits_without_holding_up_the_others()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("other_add", "CREATE TABLE other_done (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();

        // Slack is enabled on another replica only: its event arrives first, and stays for that replica.
        Assert.True(await bot.Bot.Inbox.For("Slack").AcceptAsync(new CommandReceived("/migrate help", "U1", "C1", "Ev-slack-1"), CancellationToken.None));
        await bot.SayAsync("/migrate list");

        Assert.Contains("Migrations:", bot.Transcript);
        Assert.True(await state.ScalarAsync<bool>("SELECT handled_at IS NULL FROM chatops_state.inbox WHERE event_id = 'Ev-slack-1'"));
    }

    [Fact]
    public async Task Serve_with_an_unreachable_state_database_stops_with_one_message_naming_it_and_no_password()
    {
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], new Dictionary<string, string>
        {
            ["ConnectionStrings__State"] = "Host=127.0.0.1;Port=1;Username=chatops;Password=hunter2-state;Database=chatops",
            ["ConnectionStrings__Target"] = target.ConnectionString,
            ["ChatOps__Roles__DatabaseAdministrator__0"] = "dan", ["ChatOps__Roles__SeniorBackendEngineer__0"] = "sam",
            ["ChatOps__Roles__DevOpsLead__0"] = "olga", ["ChatOps__Roles__ProductOwner__0"] = "pete",
        }, input: "");

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("The state database (ConnectionStrings:State) is not available: cannot reach PostgreSQL at 127.0.0.1:1: connection refused — " +
                     "is the server running and listening on that port?", result.Error.Trim());
        Assert.DoesNotContain("hunter2-state", result.Output + result.Error);
    }

    [Fact]
    public async Task A_reaction_that_changes_nothing_on_the_card_sends_no_edit()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("same_add", "CREATE TABLE same_done (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start same_add", "react dan ✅ D-1");
        var edits = await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE kind = 'Edit'");

        await bot.SayAsync("react mallory ✅ D-1", "react ana ✅ D-1", "react dan ✅ D-1");   // no role, no role, signed already

        Assert.True(edits >= 1);
        Assert.Equal(edits, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE kind = 'Edit'"));
        Assert.Equal(3, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = 1 AND NOT counted"));
    }

    [Fact]
    public async Task A_platform_failing_for_a_while_loses_no_message_and_keeps_their_order()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("flaky_add", "CREATE TABLE flaky_done (id int);\n", rollback: "DROP TABLE IF EXISTS flaky_done;");
        var output = new StringWriter();
        var local = new LocalChannel(output);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: local, output: output,
            platform: new FailingChannel(local, failFirst: 5), fastRetries: true);
        await bot.StartAsync();

        await bot.SayAsync("/migrate start flaky_add", "/migrate help", "/migrate list", "/migrate status D-1");

        // Every message arrived, each once, in the order it was written: the card, its ✅, help, the list, the status.
        var printed = local.Printed.ToList();
        var card = printed.FindIndex(p => p.Contains("🗄️ D-1 · flaky_add", StringComparison.Ordinal));
        var help = printed.FindIndex(p => p.Contains("/migrate help", StringComparison.Ordinal) && p.Contains("only for req", StringComparison.Ordinal));
        var list = printed.FindIndex(p => p.Contains("Migrations:", StringComparison.Ordinal));
        var status = printed.FindLastIndex(p => p.Contains("🗄️ D-1 · flaky_add", StringComparison.Ordinal));
        Assert.True(card >= 0 && card < help && help < list && list < status, string.Join("\n---\n", printed));
        Assert.Single(printed, p => p.Contains("Migrations:", StringComparison.Ordinal));
        Assert.Equal(0, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE sent_at IS NULL"));
        Assert.True(await state.ScalarAsync<int>("SELECT max(attempts) FROM chatops_state.outbox") > 1);
    }

    [Fact]
    public async Task A_message_that_always_fails_is_parked_and_shown_on_readiness_not_dropped()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("park_add", "CREATE TABLE park_done (id int);\n");
        var output = new StringWriter();
        var local = new LocalChannel(output);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: local, output: output,
            platform: new FailingChannel(local, failFirst: 0, always: true), fastRetries: true);
        await bot.StartAsync();

        await bot.SayAsync("/migrate help");

        var (ready, reasons) = await BotHealth.ReadinessAsync(bot.Bot, CancellationToken.None);
        Assert.False(ready);
        Assert.Contains(reasons, r => r.Contains("1 outbox message(s) parked", StringComparison.Ordinal) && r.Contains("503", StringComparison.Ordinal));
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE parked_at IS NOT NULL AND kind = 'Private'"));
        Assert.Empty(local.Printed);
    }

    [Fact]
    public async Task Readiness_fails_saying_why_when_the_schema_is_behind_this_build_or_a_message_waits_too_long_and_is_ready_otherwise()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("ready_add", "CREATE TABLE ready_done (id int);\n");
        // Not started: no dispatcher sends what waits in the outbox.
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await ChatOps.Postgres.State.StateDatabase.MigrateAsync(state.ConnectionString, CancellationToken.None);
        var (ready, reasons) = await BotHealth.ReadinessAsync(bot.Bot, CancellationToken.None);
        Assert.True(ready);
        Assert.Empty(reasons);

        // A message waiting longer than the outbox may be stuck.
        await using (var scope = await bot.Bot.Store.BeginAsync(CancellationToken.None))
        {
            await bot.Bot.Outbox.PostAsync(scope, "Local", "C-ready", new ChatMessage("waiting"), CancellationToken.None);
            await scope.CommitAsync(CancellationToken.None);
        }
        Assert.True((await BotHealth.ReadinessAsync(bot.Bot, CancellationToken.None)).Ready);   // just written: not stuck
        await state.ExecuteAsync("UPDATE chatops_state.outbox SET created_at = now() - interval '6 minutes' WHERE channel = 'C-ready'");
        (ready, reasons) = await BotHealth.ReadinessAsync(bot.Bot, CancellationToken.None);
        Assert.False(ready);
        Assert.Contains(reasons, r => r.StartsWith("the oldest unsent message has waited since", StringComparison.Ordinal));
        await state.ExecuteAsync("DELETE FROM chatops_state.outbox WHERE channel = 'C-ready'");

        // A schema behind this build (a replica of a newer release has not migrated it yet, or a restore of an older one).
        await state.ExecuteAsync($"DELETE FROM chatops_state.schema_version WHERE version = {ChatOps.Postgres.State.StateDatabase.CurrentVersion}");
        (ready, reasons) = await BotHealth.ReadinessAsync(bot.Bot, CancellationToken.None);
        Assert.False(ready);
        Assert.Equal($"state schema is at version {ChatOps.Postgres.State.StateDatabase.CurrentVersion - 1}, this build needs {ChatOps.Postgres.State.StateDatabase.CurrentVersion}",
            Assert.Single(reasons));
    }

    [Fact]
    public async Task A_statement_in_flight_when_its_replica_stopped_that_the_database_shows_took_effect_is_said_so_and_skipped_on_resume()
    {
        await ResetStateAsync();
        await target.ExecuteAsync("DROP TABLE IF EXISTS inflight_t, inflight_a, inflight_b");
        await target.ExecuteAsync("CREATE TABLE inflight_t (id int)");
        using var folder = new MigrationFolder().With("inflight", """
            CREATE TABLE inflight_a (id int);
            ALTER TABLE inflight_t ADD COLUMN note text;
            CREATE TABLE inflight_b (id int);
            """, rollback: "DROP TABLE IF EXISTS inflight_a; DROP TABLE IF EXISTS inflight_b; ALTER TABLE inflight_t DROP COLUMN IF EXISTS note;");
        var output = new StringWriter();
        var platform = new LocalChannel(output);
        // An application transaction reading the table: the migration's ALTER waits for it (retrying its short lock timeout).
        var blocker = new Npgsql.NpgsqlConnection(target.ConnectionString);
        await blocker.OpenAsync();
        var reading = await blocker.BeginTransactionAsync();
        await using (var read = new Npgsql.NpgsqlCommand("SELECT count(*) FROM inflight_t", blocker, reading))
            await read.ExecuteScalarAsync();

        await using (var first = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output))
        {
            await first.StartAsync();
            await first.SayAsync("/migrate start inflight", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
            await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("⏳ #2 waits for", StringComparison.Ordinal)),
                "statement #2 to be waiting for the application's lock", TimeSpan.FromMinutes(2));
            await first.Bot.StopAsync();   // the replica goes while #2 is in flight
        }
        await reading.CommitAsync();
        await blocker.DisposeAsync();
        // What a crash between the statement's effect and its journal line leaves: the column is there, the journal says 1 completed.
        await target.ExecuteAsync("ALTER TABLE inflight_t ADD COLUMN note text");

        await using var second = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output);
        await second.StartAsync();
        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("was interrupted and this replica took it over", StringComparison.Ordinal)),
            "the new replica to report the interruption", TimeSpan.FromMinutes(1));
        var transcript = output.ToString();
        Assert.Contains("interrupted at step 2 of 3 (#2 line 2: ALTER TABLE inflight_t ADD COLUMN note text)", transcript);
        Assert.Contains("the database shows #2 took effect", transcript);
        Assert.Contains("it will be skipped", transcript);

        await second.SayAsync("as dan", "/migrate resume D-1");
        await second.SettleAsync();
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'inflight_b'"));
        transcript = output.ToString();
        Assert.Contains("↷ #1 line 1 not run again", transcript);
        Assert.Contains("↷ #2 line 2", transcript);
    }

    [Fact]
    public async Task Two_replicas_one_runs_the_deployment_messages_go_once_and_stopping_it_makes_the_other_take_over()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("two_slow", """
            CREATE TABLE two_a (id int);
            SELECT pg_sleep(20);
            CREATE TABLE two_b (id int);
            """, rollback: "DROP TABLE IF EXISTS two_a; DROP TABLE IF EXISTS two_b;");
        var output = new StringWriter();
        var platform = new LocalChannel(output);
        // Status every 2 s: only the replica running the deployment posts it, and the one taking over keeps the cadence.
        var status = LocalBot.NoMonitoring with { Cadence = LocalBot.NoMonitoring.Cadence with { Interval = TimeSpan.FromSeconds(2) } };
        await using var first = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output, reporting: status);
        await using var second = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output, reporting: status);
        await first.StartAsync();
        await second.StartAsync();

        await first.SayAsync("/migrate start two_slow", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");
        await second.SayAsync("react pete ✅ D-1");
        await Poll.UntilAsync(() => target.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(20)%')"),
            "the migration's long statement to run", TimeSpan.FromMinutes(2));

        var runner = first.Bot.Owner.Owned.Contains(1) ? first : second;
        var other = ReferenceEquals(runner, first) ? second : first;
        Assert.Contains(1, runner.Bot.Owner.Owned);
        Assert.DoesNotContain(1, other.Bot.Owner.Owned);

        await runner.Bot.StopAsync();
        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("was interrupted and this replica took it over", StringComparison.Ordinal)),
            "the other replica to take the deployment over", TimeSpan.FromMinutes(1));
        Assert.Contains(1, other.Bot.Owner.Owned);
        await other.SayAsync("as dan", "/migrate resume D-1");
        await other.SettleAsync();

        var transcript = output.ToString();
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'two_b'"));
        // Each message went once, though two replicas were sending: one card, one takeover notice, one verdict.
        Assert.Equal(1, Count(transcript, "── #local · message L1 ──\n🗄️ D-1"));
        Assert.Equal(1, Count(transcript, "was interrupted and this replica took it over"));
        Assert.Equal(1, Count(transcript, "VERDICT: SUCCESS"));
        Assert.Contains("interrupted at step 2 of 3", transcript);
        // The replica that took over resumed from the stored checkpoint: the baseline is the first run's, not measured again.
        Assert.Contains("▶️ resumed at phase 2 · execute migration with the baseline measured", transcript);
        Assert.Equal(0, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.outbox WHERE sent_at IS NULL"));
        // Status posts: several, and never two within the interval (a second replica posting too would make pairs).
        var posts = (await state.ScalarAsync<string>("""
            SELECT string_agg(extract(epoch FROM created_at)::text, ' ' ORDER BY id) FROM chatops_state.outbox WHERE message::text LIKE '%📊 D-1 · status%'
            """)).Split(' ').Select(t => TimeSpan.FromSeconds(double.Parse(t, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.True(posts.Count >= 3, $"{posts.Count} status posts");
        Assert.All(posts.Zip(posts.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(1.5), $"status posts at {pair.First} and {pair.Second}"));
    }

    private static int Count(string text, string what)
    {
        var n = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    [Fact]
    public async Task Killed_during_phase_2_a_new_process_reports_the_interruption_runs_no_journalled_statement_again_and_finishes_after_resume()
    {
        await ResetStateAsync();
        // Re-running #1 would fail (the table exists): the run can only finish if the journal is honoured.
        using var folder = new MigrationFolder().With("kill_slow", """
            CREATE TABLE kill_a (id int);
            SELECT pg_sleep(30);
            CREATE TABLE kill_b (id int);
            """, rollback: "DROP TABLE IF EXISTS kill_a; DROP TABLE IF EXISTS kill_b;");
        var environment = folder.Environment(("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("ChatOps__Roles__DatabaseAdministrator__0", "dan"), ("ChatOps__Roles__SeniorBackendEngineer__0", "sam"), ("ChatOps__Roles__SeniorBackendEngineer__1", "req"),
            ("ChatOps__Roles__DevOpsLead__0", "olga"), ("ChatOps__Roles__ProductOwner__0", "pete"), ("ChatOps__Monitoring__SampleInterval", "00:00:00.500"),
            ("ChatOps__PostDeployment__Extended", "00:00:02"));

        using (var first = ChatOpsProcess.Start(["serve", "--urls", "http://127.0.0.1:0"], environment, input: """
            as req
            /migrate start kill_slow
            react dan ✅ D-1
            react sam ✅ D-1
            react olga ✅ D-1
            react pete ✅ D-1

            """, keepInputOpen: true))
        {
            await Poll.UntilAsync(() => target.ScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(30)%')"),
                "the migration's long statement to run", TimeSpan.FromMinutes(2));
            first.Signal("KILL");
            await first.WaitAsync();
        }
        // The killed process's sessions linger on the server until it notices; a DBA would end them, so does the test.
        await target.ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'chatops:%'");
        Assert.Equal("Running", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        using var second = ChatOpsProcess.Start(["serve", "--urls", "http://127.0.0.1:0"], environment, input: "", keepInputOpen: true);
        await Poll.UntilAsync(() => Task.FromResult(second.Output.Contains("was interrupted and this replica took it over", StringComparison.Ordinal)),
            "the new process to report the interruption", TimeSpan.FromMinutes(1));
        second.WriteLine("as dan");
        second.WriteLine("/migrate resume D-1");
        second.CloseInput();
        var result = await second.WaitAsync();

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        // The scheduler found the dead process's run job (it stopped checking in) and fired it again here.
        Assert.Contains("Run job for D-1 fires again on", result.Output + result.Error);
        Assert.Contains("interrupted at step 2 of 3 (#2 line 2: SELECT pg_sleep(30))", result.Output);
        Assert.Contains("the journal shows 1 completed; the catalog cannot tell whether #2 took effect: it runs again on resume", result.Output);
        Assert.Contains("▶️ resumed at phase 2 · execute migration", result.Output);
        Assert.Contains("🟢 VERDICT: SUCCESS", result.Output);
        // The journalled statement did not run again (it could not have: its table exists). The first process's own "✓ #1" line may
        // still come out here: written to the outbox before the kill, it is sent by the process that took over — nothing lost.
        Assert.Contains("↷ #1 line 1 not run again", result.Output);
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'kill_b'"));
    }
}
