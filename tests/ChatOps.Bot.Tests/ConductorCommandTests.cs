using System.Text.RegularExpressions;
using ChatOps.Bot.Conversation;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Commands through the whole bot (local channel, real state database and target): the rollback prompt's 5 minutes, <c>D-n</c>
/// left out, <c>history</c>, <c>plan</c> and <c>list</c>, and a target nobody can reach.
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
}
