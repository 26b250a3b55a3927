using System.Text.RegularExpressions;
using ChatOps.Bot.Conversation;
using ChatOps.Postgres;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Commands through the whole bot (local channel, real state database and target): the rollback prompt's 5 minutes, <c>D-n</c>
/// left out, <c>history</c>, <c>plan</c> and <c>list</c>, a target nobody can reach, a named target, refusals of <c>pause</c>,
/// <c>resume</c> and <c>abort</c>, ✅ on messages that are not a card, and <c>status</c>/<c>history</c> in the audit trail.
/// </summary>
public class ConductorCommandTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly string[] SignOffs = ["react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1"];

    private static readonly string[] DeploymentCommands = ["status", "approve", "revoke", "pause", "resume", "rollback", "abort", "history"];

    private Task ResetStateAsync() => state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");

    private Task<string> StateOfAsync(int id) => state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = $1", id);

    private Task<long> TablesAsync(string name) => target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = $1", name);

    private static int Count(string text, string part) => Regex.Count(text, Regex.Escape(part));

    private Task<string> AuditAsync(int id = 1) => state.ScalarAsync<string>(
        "SELECT string_agg(who || ': ' || what || CASE WHEN counted THEN '' ELSE ' (not counted)' END, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = $1", id);

    private Task<long> CountedAsync() => state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND counted");

    private Task<string> SignOffRowsAsync() => state.ScalarAsync<string>(
        "SELECT coalesce(string_agg(user_id || '@' || signed_at::text, ',' ORDER BY user_id), '') FROM chatops_state.sign_offs WHERE deployment = 1");

    /// <summary>What the inbox recorded as the outcome of <paramref name="user"/>'s reaction on message <paramref name="message"/> (L-n).</summary>
    private Task<string> ReactionOutcomeAsync(string user, string message) => state.ScalarAsync<string>(
        "SELECT outcome FROM chatops_state.inbox WHERE event->>'user' = $1 AND event->>'message' = $2 AND handled_at IS NOT NULL", user, message);

    /// <summary>⏪ on the rollback prompt itself, as a platform delivers it (the prompt's key stands for the platform's message id).</summary>
    private async Task RewindOnPromptAsync(LocalBot bot, string user, string eventId)
    {
        var prompt = await state.ScalarAsync<string>("SELECT rollback_prompt FROM chatops_state.deployments WHERE id = 1");
        await bot.Bot.Inbox.For("Local").AcceptAsync(new ReactionAdded(user, new MessageReference("local", prompt), ReactionEmoji.Rollback, "⏪", eventId), CancellationToken.None);
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
    }

    [Fact]
    public async Task A_rewind_after_the_prompt_lapsed_rolls_nothing_back_and_says_so_and_one_within_five_minutes_does()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("lapse_add", "CREATE TABLE lapse_a (id int);\n", rollback: "DROP TABLE IF EXISTS lapse_a;");
        var clock = new ShiftedClock();
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, time: clock);
        await bot.StartAsync();
        await bot.SayAsync(["/migrate start lapse_add", .. SignOffs]);
        await bot.SettleAsync();
        Assert.Equal("Completed", await StateOfAsync(1));

        // A completed deployment is no longer active: it is named.
        await bot.SayAsync("as dan", "/migrate rollback D-1");
        Assert.Contains("⏪ Roll back D-1 (lapse_add)?", bot.Transcript);
        clock.Advance(Conductor.RollbackPromptValidFor + TimeSpan.FromSeconds(1));
        await RewindOnPromptAsync(bot, "dan", "Ev-rewind-late");
        await bot.SettleAsync();

        Assert.Contains("D-1: ⏪ with no rollback prompt pending (or it lapsed): type /migrate rollback first", bot.Transcript);
        Assert.Equal("Completed", await StateOfAsync(1));
        Assert.Equal(1L, await TablesAsync("lapse_a"));
        Assert.True(await state.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM chatops_state.audit_events WHERE deployment = 1 AND who = 'dan' AND NOT counted AND what LIKE 'reaction ⏪: ⏪ with no rollback prompt pending%')"));

        // Asked again: a new prompt, answered with a minute to spare.
        await bot.SayAsync("/migrate rollback D-1");
        clock.Advance(Conductor.RollbackPromptValidFor - TimeSpan.FromMinutes(1));
        await RewindOnPromptAsync(bot, "dan", "Ev-rewind-in-time");
        await bot.SettleAsync();

        Assert.Equal("RolledBack", await StateOfAsync(1));
        Assert.Equal(0L, await TablesAsync("lapse_a"));
        Assert.Contains("D-1: rolled back and verified", bot.Transcript);
    }

    [Fact]
    public async Task With_no_active_deployment_every_deployment_command_without_d_n_says_to_name_one()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("none_add", "CREATE TABLE none_a (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, user: "dan");
        await bot.StartAsync();

        foreach (var command in DeploymentCommands)
            await bot.SayAsync("/migrate " + command);
        // A deployment active in another channel is not this channel's.
        await bot.SayAsync("as req", "/migrate start none_add", "as dan");
        await bot.Bot.Inbox.For("Local").AcceptAsync(new CommandReceived("/migrate approve", "dan", "ops", "Ev-ops-approve"), CancellationToken.None);
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        Assert.Equal(DeploymentCommands.Length + 1, Count(bot.Transcript, "⚠️ no active deployment in this channel: name one (D-n)"));
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE who = 'dan'"));
    }

    [Fact]
    public async Task With_one_active_deployment_each_command_without_d_n_applies_to_it_and_with_two_the_reply_lists_them()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("one_add", "CREATE TABLE one_a (id int);\n", rollback: "DROP TABLE IF EXISTS one_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start one_add", "as dan");
        var cards = Count(bot.Transcript, "🗄️ D-1 · one_add");

        await bot.SayAsync("/migrate approve");
        Assert.Contains("D-1: dan signed (Database Administrator)", bot.Transcript);
        await bot.SayAsync("/migrate revoke");
        Assert.Contains("D-1: dan revoked their sign-off", bot.Transcript);
        await bot.SayAsync("/migrate status");
        Assert.True(Count(bot.Transcript, "🗄️ D-1 · one_add") > cards, "status posts the card again");
        await bot.SayAsync("/migrate pause");
        Assert.Contains("D-1: pause refused: D-1 is awaiting approval: pause applies to a running deployment", bot.Transcript);
        await bot.SayAsync("/migrate resume");
        Assert.Contains("D-1: resume refused: D-1 is awaiting approval: resume applies to a paused deployment", bot.Transcript);
        await bot.SayAsync("/migrate rollback");
        Assert.Contains("D-1: D-1 is awaiting approval: nothing to roll back", bot.Transcript);
        await bot.SayAsync("/migrate history");
        Assert.Contains("D-1 audit trail, most recent first:", bot.Transcript);
        await bot.SayAsync("/migrate abort");
        Assert.Contains("D-1: aborted: nothing ran", bot.Transcript);
        Assert.Equal("Aborted", await StateOfAsync(1));

        // D-1 is over: two new ones are active, and a command without D-n names both rather than guessing.
        await bot.SayAsync("as req", "/migrate start one_add", "/migrate start one_add", "as dan");
        var before = await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE deployment IN (2, 3)");
        foreach (var command in DeploymentCommands)
            await bot.SayAsync("/migrate " + command);

        Assert.Equal(DeploymentCommands.Length, Count(bot.Transcript, "⚠️ several active deployments here: name one of D-2, D-3"));
        Assert.Equal(before, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE deployment IN (2, 3)"));
        Assert.Equal(["AwaitingApproval", "AwaitingApproval"], [await StateOfAsync(2), await StateOfAsync(3)]);
    }

    [Fact]
    public async Task History_plan_and_list_answer_in_the_channel()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder()
            .With("hpl_add", "CREATE TABLE hpl_a (id int);\n", rollback: "DROP TABLE IF EXISTS hpl_a;")
            .With("hpl_index", "CREATE INDEX hpl_contacts_email ON contacts (email);\nALTER TABLE contacts ADD COLUMN hpl_c int NOT NULL DEFAULT 0;\n")
            .With("hpl_later", "CREATE TABLE hpl_l (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync(["/migrate start hpl_add", .. SignOffs]);
        await bot.SettleAsync();
        await bot.SayAsync("/migrate start hpl_index", "as dan", "/migrate abort D-2");

        await bot.SayAsync("/migrate list", "/migrate plan hpl_index", "/migrate history D-1");
        var transcript = bot.Transcript;

        // list: every migration, with its last deployment's state.
        Assert.Contains("Migrations:\n  hpl_add — last deployment D-1: completed\n  hpl_index — last deployment D-2: aborted\n  hpl_later — never deployed from here", transcript);

        // plan: each statement with its lock, then the warnings.
        var plan = transcript[transcript.IndexOf("📋 Plan for hpl_index", StringComparison.Ordinal)..];
        Assert.StartsWith("📋 Plan for hpl_index: 2 statement(s)   ⚠️", plan);
        Assert.Contains("strongest lock AccessExclusive", plan);
        Assert.Matches(@"#1 line 1: CREATE INDEX hpl_contacts_email ON contacts \(email\)[^\n]* — Share\n", plan);
        Assert.Contains("#2 line 2: ALTER TABLE contacts ADD COLUMN hpl_c", plan);
        Assert.Contains("Warnings\n", plan);
        Assert.Contains("CONCURRENTLY", plan);
        Assert.Contains("/migrate start hpl_index opens a deployment with this plan on its card", plan);

        // history: most recent first, each line with when and who.
        var history = transcript[transcript.IndexOf("D-1 audit trail, most recent first:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).ToList();
        Assert.All(history, l => Assert.Matches(@"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ [a-z]+: ", l));
        int At(string what) => history.FindIndex(l => l.Contains(what, StringComparison.Ordinal));
        Assert.True(At("bot: verdict: success") < At("bot: execution started"));
        Assert.True(At("bot: execution started") < At("bot: approved ("));
        Assert.True(At("bot: approved (") < At("pete: sign-off: pete signed (Product Owner)"));
        Assert.True(At("pete: sign-off") < At("dan: sign-off: dan signed (Database Administrator)"));
        Assert.Equal(history.Count - 1, At("req: requested hpl_add"));
        var times = history.Select(l => DateTimeOffset.Parse(l[2..21] + "Z", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(times.OrderDescending(), times);
    }

    [Fact]
    public async Task A_target_nobody_can_reach_gives_a_card_with_a_failed_check_that_signing_cannot_approve_and_nothing_is_lost()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("gone_add", "CREATE TABLE gone_a (id int);\n", rollback: "DROP TABLE IF EXISTS gone_a;");
        const string unreachable = "Host=127.0.0.1;Port=1;Username=chatops;Password=hunter2-target;Database=app;Timeout=5";
        await using var bot = new LocalBot(state.ConnectionString, unreachable, folder.Path, Holders);
        await bot.StartAsync();

        await bot.SayAsync(["/migrate start gone_add", .. SignOffs, "/migrate status"]);
        await bot.SettleAsync();

        var card = (await bot.CardAsync(1))!;
        Assert.Equal("🗄️ D-1 · gone_add → 127.0.0.1:1/app as chatops", card.Title);
        Assert.StartsWith("⛔ NOT APPROVED · all 4 roles signed, but 1 automated check failed: target reachable", card.Status);
        var reachable = Assert.Single(card.Checklists.SelectMany(c => c.Lines), l => l.Text.StartsWith("target reachable: ", StringComparison.Ordinal));
        Assert.Equal(ChecklistState.Failed, reachable.State);
        Assert.Equal("AwaitingApproval", await StateOfAsync(1));
        Assert.Contains("pre-deployment checks ran again: still failing: target reachable",
            await state.ScalarAsync<string>("SELECT string_agg(what, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1"));
        Assert.DoesNotContain("hunter2", bot.Transcript);
        Assert.DoesNotContain("that did not work", bot.Transcript);
        // Nothing lost: every event handled, every message sent.
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.inbox WHERE handled_at IS NULL"));
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE sent_at IS NULL"));
    }

    [Fact]
    public async Task A_sign_off_reaction_on_another_message_counts_for_nothing_and_one_on_the_rollback_prompt_is_recorded_not_counted()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("rx_add", "CREATE TABLE rx_a (id int);\n", rollback: "DROP TABLE IF EXISTS rx_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start rx_add", "/migrate list");
        var list = await state.ScalarAsync<string>("SELECT platform_id FROM chatops_state.outbox WHERE kind = 'Post' AND message::text LIKE '%Migrations:%'");
        Assert.Matches("^L[0-9]+$", list);

        // ✅ on the list while D-1 awaits sign-off: not its card, so nothing is signed and nothing is recorded on it.
        await bot.SayAsync($"react dan ✅ {list}");
        Assert.Equal("a reaction on another message", await ReactionOutcomeAsync("dan", list));
        Assert.Equal("", await SignOffRowsAsync());
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE who = 'dan'"));
        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4)", (await bot.CardAsync(1))!.Status);

        await bot.SayAsync(SignOffs);
        await bot.SettleAsync();
        Assert.Equal("Completed", await StateOfAsync(1));
        await bot.SayAsync("as dan", "/migrate rollback D-1");
        var prompt = await state.ScalarAsync<string>(
            "SELECT o.platform_id FROM chatops_state.outbox o JOIN chatops_state.deployments d ON o.key = d.rollback_prompt WHERE d.id = 1");
        var signed = await SignOffRowsAsync();
        var counted = await CountedAsync();

        // ✅ on the rollback prompt: recorded on D-1 with why, counted for nothing; the prompt still waits for its ⏪.
        await bot.SayAsync($"react olga ✅ {prompt}");
        Assert.Equal("only ⏪ answers a rollback prompt", await ReactionOutcomeAsync("olga", prompt));
        Assert.EndsWith("\nolga: reaction ✅: only ⏪ answers a rollback prompt (not counted)", await AuditAsync());
        Assert.Equal(counted, await CountedAsync());
        Assert.Equal(signed, await SignOffRowsAsync());
        Assert.Equal("Completed", await StateOfAsync(1));
        Assert.True(await state.ScalarAsync<bool>("SELECT rollback_prompt IS NOT NULL AND rollback_prompt_until > now() FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await TablesAsync("rx_a"));
    }

    [Fact]
    public async Task Pause_resume_and_abort_by_someone_without_the_role_are_refused_naming_it_and_change_nothing()
    {
        await ResetStateAsync();
        // The run stays at its second statement (a gate the test holds) for the whole exchange: the commands meet a running, then paused,
        // deployment whatever the load, and nothing after the gate runs meanwhile.
        const long gateKey = 0x5045524D;   // 'PERM'
        using var folder = new MigrationFolder().With("perm_slow", $"CREATE TABLE perm_a (id int);\n{MigrationGate.Statement(gateKey)}\nCREATE TABLE perm_b (id int);\n",
            rollback: "DROP TABLE IF EXISTS perm_a; DROP TABLE IF EXISTS perm_b;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await using var gate = await MigrationGate.CloseAsync(target, gateKey);
        await bot.SayAsync(["/migrate start perm_slow", .. SignOffs]);
        await gate.ReachedAsync("chatops:D-1-%", "the run to wait at its second statement");
        var signed = await SignOffRowsAsync();

        // mallory holds no role: pause (any of the four roles) is refused while it runs.
        await bot.SayAsync("as mallory", "/migrate pause");
        Assert.Contains("D-1: pause refused: mallory may not pause: it needs the Database Administrator or Senior Backend Engineer or DevOps/SRE Lead " +
                        "or Product Owner role", bot.Transcript);
        Assert.Equal("Running", await StateOfAsync(1));

        await bot.SayAsync("as dan", "/migrate pause");
        Assert.Equal("Paused", await StateOfAsync(1));
        var counted = await CountedAsync();

        // Paused: mallory may not resume it, and a Product Owner may not abort it.
        await bot.SayAsync("as mallory", "/migrate resume", "as pete", "/migrate abort");
        Assert.Contains("D-1: resume refused: mallory may not resume: it needs the Database Administrator or Senior Backend Engineer or DevOps/SRE Lead " +
                        "or Product Owner role", bot.Transcript);
        Assert.Contains("D-1: pete may not abort: it needs the Database Administrator or DevOps/SRE Lead role", bot.Transcript);
        Assert.Equal("Paused", await StateOfAsync(1));
        Assert.Equal(counted, await CountedAsync());
        Assert.Equal(signed, await SignOffRowsAsync());
        Assert.Equal(0L, await TablesAsync("perm_b"));
        var audit = await AuditAsync();
        Assert.Contains("mallory: pause refused: mallory may not pause", audit);
        Assert.Contains("mallory: resume refused: mallory may not resume", audit);
        Assert.Contains("pete: abort refused: pete may not abort: it needs the Database Administrator or DevOps/SRE Lead role (not counted)", audit);
        Assert.DoesNotContain("mallory: paused", audit);

        await bot.SayAsync("as dan", "/migrate resume");
        Assert.Equal("Running", await StateOfAsync(1));
        await gate.DisposeAsync();
        await bot.SettleAsync();
        Assert.Equal("Completed", await StateOfAsync(1));
        Assert.Equal(1L, await TablesAsync("perm_b"));
    }

    [Fact]
    public async Task Start_with_a_named_target_shows_it_on_the_card_and_runs_there_and_an_unknown_one_is_refused_with_the_names()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("nt_add", "CREATE TABLE nt_a (id int);\n", rollback: "DROP TABLE IF EXISTS nt_a;");
        var staging = await TestPostgres.CreateDatabaseAsync(withDemoData: true);
        try
        {
            var stagingConnection = ConnectionStrings.WithDatabase(target.ServerConnectionString, staging);
            await using (var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders,
                             namedTargets: new Dictionary<string, string> { ["staging"] = stagingConnection }))
            {
                await bot.StartAsync();
                await bot.SayAsync("/migrate start nt_add --target nosuch");
                Assert.Contains("── #local · only for req ──\n⚠️ no target named 'nosuch'; known: staging", bot.Transcript);
                Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.deployments"));

                await bot.SayAsync("/migrate start nt_add --target staging");
                var card = (await bot.CardAsync(1))!;
                Assert.Equal($"🗄️ D-1 · nt_add → {ConnectionStrings.Describe(stagingConnection)}", card.Title);
                Assert.Contains($"/{staging}", card.Title);
                Assert.DoesNotContain(target.Name, card.Title);
                await bot.SayAsync(SignOffs);
                await bot.SettleAsync();
            }

            Assert.Equal("Completed", await StateOfAsync(1));
            Assert.Equal(ConnectionStrings.Describe(ConnectionStrings.WithDatabase(target.ServerConnectionString, staging)),
                await state.ScalarAsync<string>("SELECT target FROM chatops_state.deployments WHERE id = 1"));
            Assert.Equal(0L, await TablesAsync("nt_a"));   // the default target is untouched
            await using var onStaging = new Npgsql.NpgsqlConnection(ConnectionStrings.WithDatabase(target.ServerConnectionString, staging));
            await onStaging.OpenAsync();
            await using var tables = new Npgsql.NpgsqlCommand(
                "SELECT (SELECT count(*) FROM pg_class WHERE relname = 'nt_a') || ' ' || (SELECT string_agg(kind || ' ' || outcome, '|') FROM chatops.migration_history WHERE migration = 'nt_add')",
                onStaging);
            Assert.Equal("1 run succeeded", await tables.ExecuteScalarAsync());
        }
        finally
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            await TestPostgres.DropDatabaseAsync(staging);
        }
    }

    [Fact]
    public async Task Status_and_history_are_audit_events_with_who_and_when_and_change_nothing_on_the_card_or_thread()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("sh_add", "CREATE TABLE sh_a (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start sh_add", "react dan ✅ D-1");
        var shown = await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE kind IN ('Edit', 'Reply')");
        var before = DateTimeOffset.UtcNow;

        await bot.SayAsync("as pete", "/migrate status D-1", "as olga", "/migrate history D-1");

        var lines = await state.ScalarAsync<string>(
            "SELECT string_agg(who || ': ' || what || ' ' || counted, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1 AND at >= $1", before);
        Assert.Equal("pete: status: the card posted on demand true\nolga: history: the audit trail posted true", lines);
        // The history shows the status request that came before it.
        var history = bot.Transcript[bot.Transcript.IndexOf("D-1 audit trail, most recent first:", StringComparison.Ordinal)..];
        Assert.Matches(@"^D-1 audit trail, most recent first:\n  \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ pete: status: the card posted on demand\n", history);
        // Looking is quiet: no card edit, no thread reply; the deployment is as it was.
        Assert.Equal(shown, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE kind IN ('Edit', 'Reply')"));
        Assert.Equal("AwaitingApproval", await StateOfAsync(1));
        Assert.Equal("⏳ AWAITING SIGN-OFF (1/4)", (await bot.CardAsync(1))!.Status);
    }
}
