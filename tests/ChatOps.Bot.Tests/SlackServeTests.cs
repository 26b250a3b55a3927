using System.Net;
using ChatOps.Testing;
using ChatOps.Testing.FakeSlack;

namespace ChatOps.Bot.Tests;

/// <summary>
/// The whole story on Slack: <c>serve</c> as a child process talking to a fake Slack on 127.0.0.1, driven by correctly signed slash
/// commands and Events API callbacks — start, four reactions (one delivered twice), phases in the card's thread, completion.
/// </summary>
public class SlackServeTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private const string Secret = "fake-signing-secret";
    private const string Channel = "C0OPS";

    /// <summary>The environment of a <c>serve</c> on Slack's HTTP endpoints, with the four role holders and UREQ requesting.</summary>
    private Dictionary<string, string> HttpServe(MigrationFolder folder, FakeSlackServer slack, string botToken = FakeSlackServer.BotToken, string extended = "00:00:02") =>
        folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("Slack__BotToken", botToken), ("Slack__SigningSecret", Secret), ("Slack__ChannelId", Channel),
            ("Slack__ApiBaseUrl", slack.ApiBaseUrl.AbsoluteUri),
            ("ChatOps__Roles__DatabaseAdministrator__0", "UDAN"), ("ChatOps__Roles__SeniorBackendEngineer__0", "USAM"),
            ("ChatOps__Roles__SeniorBackendEngineer__1", "UREQ"), ("ChatOps__Roles__DevOpsLead__0", "UOLGA"), ("ChatOps__Roles__ProductOwner__0", "UPETE"),
            ("ChatOps__PostDeployment__Extended", extended));

    private static async Task ReadyAsync(HttpClient http, Uri bot, ChatOpsProcess.Running serve) =>
        await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(bot, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "serve to be ready", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output + serve.Error));

    [Fact]
    public async Task Start_four_reactions_phases_in_the_thread_and_the_card_edited_to_completed()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        using var folder = new MigrationFolder().With("slack_add", "CREATE TABLE slack_done (id int);\n", rollback: "DROP TABLE IF EXISTS slack_done;");
        var port = Ports.Free();
        var bot = new Uri($"http://127.0.0.1:{port}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], HttpServe(folder, slack));
        using var http = new HttpClient();
        await ReadyAsync(http, bot, serve);

        async Task<HttpStatusCode> PostAsync(string path, string body, string contentType, int? retry = null)
        {
            using var request = SlackRequests.Signed(new Uri(bot, path), body, contentType, Secret, retryNum: retry);
            return (await http.SendAsync(request)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await PostAsync("slack/commands",
            SlackRequests.Form(SlackRequests.SlashCommand("start slack_add", "UREQ", Channel, "trig-1", slack.ResponseUrl("r1"))), "application/x-www-form-urlencoded"));
        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Any(m => m.Channel == Channel && m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal))),
            "the card to be posted", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output));
        var card = slack.Messages.First(m => m.Channel == Channel && m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal));

        // The bot's own ✅ (Slack sends reaction_added for the one it put there to click, by the user auth.test named): it never counts.
        Assert.Equal(HttpStatusCode.OK, await PostAsync("slack/events",
            SlackRequests.Reaction("EvBot", FakeSlackServer.BotUserId, Channel, card.Ts, "white_check_mark").ToJsonString(), "application/json"));
        await Poll.UntilAsync(async () => await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND who = $1 AND NOT counted AND what LIKE '%the bot''s own reaction never counts%'",
            FakeSlackServer.BotUserId) == 1, "the bot's own ✅ in the audit trail, not counted", TimeSpan.FromSeconds(30), () => Task.FromResult(serve.Output));
        // Written in the same transaction as that audit line, had it changed the card: no edit, no sign-off.
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE platform = 'Slack' AND kind = 'Edit'"));
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.sign_offs WHERE user_id = $1", FakeSlackServer.BotUserId));
        Assert.Contains("(0/4)", slack.Messages.Single(m => m.Ts == card.Ts).Text, StringComparison.Ordinal);

        var n = 0;
        foreach (var user in new[] { "UDAN", "USAM", "UOLGA", "UPETE" })
            Assert.Equal(HttpStatusCode.OK, await PostAsync("slack/events",
                SlackRequests.Reaction($"Ev{++n}", user, Channel, card.Ts, "white_check_mark").ToJsonString(), "application/json"));
        // Slack delivers the first one again (it did not see our 200 in time): handled once.
        Assert.Equal(HttpStatusCode.OK, await PostAsync("slack/events",
            SlackRequests.Reaction("Ev1", "UDAN", Channel, card.Ts, "white_check_mark").ToJsonString(), "application/json", retry: 1));
        // A forged one is refused.
        using (var forged = new HttpRequestMessage(HttpMethod.Post, new Uri(bot, "slack/events")) { Content = new StringContent("{}") })
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(forged)).StatusCode);

        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Any(m => m.ThreadTs == card.Ts && m.Text.Contains("VERDICT: SUCCESS", StringComparison.Ordinal))),
            "the verdict in the card's thread", TimeSpan.FromMinutes(3), () => Task.FromResult(serve.Output));
        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Single(m => m.Ts == card.Ts).Text.Contains("COMPLETED", StringComparison.Ordinal)),
            "the card to show COMPLETED", TimeSpan.FromMinutes(1));

        Assert.True(slack.HasReaction(Channel, card.Ts, "white_check_mark"));   // the bot's own ✅ to click
        Assert.Contains(slack.Messages, m => m.ThreadTs == card.Ts && m.Text.Contains("phase 2 · execute migration", StringComparison.Ordinal));
        Assert.True(slack.Messages.Single(m => m.Ts == card.Ts).Edits >= 4);
        Assert.All(slack.Calls, c => Assert.Equal($"Bearer {FakeSlackServer.BotToken}", c.Authorization));
        Assert.Equal(1, await state.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = 1 AND who = 'UDAN'"));
        // The four real signers only: the bot is nowhere on the card, nor among the sign-offs.
        var signed = slack.Messages.Single(m => m.Ts == card.Ts);
        Assert.DoesNotContain(FakeSlackServer.BotUserId, signed.Text + signed.Blocks?.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("UDAN,UOLGA,UPETE,USAM", await state.ScalarAsync<string>(
            "SELECT string_agg(user_id, ',' ORDER BY user_id) FROM chatops_state.sign_offs WHERE deployment = 1"));
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'slack_done'"));

        serve.Signal("TERM");
        var result = await serve.WaitAsync();
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.DoesNotContain(Secret, result.Output + result.Error);
        Assert.DoesNotContain(FakeSlackServer.BotToken, result.Output + result.Error);
    }

    [Fact]
    public async Task Over_socket_mode_the_same_story_runs_without_a_public_url_and_every_envelope_is_acknowledged()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        using var folder = new MigrationFolder().With("slack_socket", "CREATE TABLE slack_socket_done (id int);\n", rollback: "DROP TABLE IF EXISTS slack_socket_done;");
        var bot = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("Slack__BotToken", FakeSlackServer.BotToken), ("Slack__AppToken", FakeSlackServer.AppToken), ("Slack__SigningSecret", Secret),
            ("Slack__ChannelId", Channel), ("Slack__ApiBaseUrl", slack.ApiBaseUrl.AbsoluteUri),
            ("ChatOps__Roles__DatabaseAdministrator__0", "UDAN"), ("ChatOps__Roles__SeniorBackendEngineer__0", "USAM"),
            ("ChatOps__Roles__SeniorBackendEngineer__1", "UREQ"), ("ChatOps__Roles__DevOpsLead__0", "UOLGA"), ("ChatOps__Roles__ProductOwner__0", "UPETE"),
            ("ChatOps__PostDeployment__Extended", "00:00:00")));
        var socket = await Poll.WithinAsync(slack.SocketAsync(1), "serve to open the Socket Mode connection", TimeSpan.FromMinutes(1));

        var command = await socket.SendEnvelopeAsync("slash_commands",
            SlackRequests.AsJson(SlackRequests.SlashCommand("start slack_socket", "UREQ", Channel, "trig-s1", slack.ResponseUrl("s1"))), acceptsResponsePayload: true);
        await Poll.WithinAsync(socket.AckAsync(command), "the slash command's acknowledgement", TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Any(m => m.Channel == Channel && m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal))),
            "the card to be posted", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output));
        var card = slack.Messages.First(m => m.Channel == Channel && m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal));

        var envelopes = new List<string>();
        var n = 0;
        foreach (var user in new[] { "UDAN", "USAM", "UOLGA", "UPETE" })
            envelopes.Add(await socket.SendEnvelopeAsync("events_api", SlackRequests.Reaction($"EvS{++n}", user, Channel, card.Ts, "white_check_mark")));
        foreach (var envelope in envelopes)
            await Poll.WithinAsync(socket.AckAsync(envelope), $"envelope {envelope} acknowledged", TimeSpan.FromSeconds(30));

        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Single(m => m.Ts == card.Ts).Text.Contains("COMPLETED", StringComparison.Ordinal)),
            "the card to show COMPLETED", TimeSpan.FromMinutes(3), () => Task.FromResult(serve.Output));
        // The card's edit goes before the thread's verdict (written in that order, sent in that order): the verdict follows.
        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Any(m => m.ThreadTs == card.Ts && m.Text.Contains("VERDICT: SUCCESS", StringComparison.Ordinal))),
            "the verdict in the card's thread", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'slack_socket_done'"));

        // A reply in the card's thread (lessons learned) is kept in the deployment's audit trail.
        var reply = await socket.SendEnvelopeAsync("events_api", new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "event_callback", ["event_id"] = "EvS9",
            ["event"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "message", ["user"] = "UDAN", ["channel"] = Channel, ["text"] = "went well: no lock waits", ["ts"] = "1700009999.000001", ["thread_ts"] = card.Ts,
            },
        });
        await Poll.WithinAsync(socket.AckAsync(reply), "the reply's acknowledgement", TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND who = 'UDAN' AND what = 'in the thread: went well: no lock waits'") == 1,
            "the reply in the audit trail", TimeSpan.FromSeconds(30), () => Task.FromResult(serve.Output));

        serve.Signal("TERM");
        var result = await serve.WaitAsync();
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.DoesNotContain(FakeSlackServer.AppToken, result.Output + result.Error);
    }

    [Fact]
    public async Task Under_a_429_storm_every_message_arrives_once_and_in_the_order_the_bot_wrote_it()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        // Slack's answer to a burst: the card's post refused twice in a row, then every third chat.postMessage and chat.update
        // (a retry counted too) refused with HTTP 429 and Retry-After: 1 for as long as the deployment runs.
        var limited = new FakeSlackFailure.RateLimited(RetryAfterSeconds: 1);
        slack.FailNext("chat.postMessage", 2, limited);
        slack.FailEvery("chat.postMessage", 3, limited);
        slack.FailEvery("chat.update", 3, limited);
        using var folder = new MigrationFolder().With("slack_storm",
            "CREATE TABLE slack_storm (id int);\nALTER TABLE slack_storm ADD COLUMN note text;\nCREATE INDEX slack_storm_id ON slack_storm (id);\n",
            rollback: "DROP TABLE IF EXISTS slack_storm;");
        var bot = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], HttpServe(folder, slack, extended: "00:00:00"));
        using var http = new HttpClient();
        await ReadyAsync(http, bot, serve);

        async Task SendAsync(string path, string body, string contentType)
        {
            using var request = SlackRequests.Signed(new Uri(bot, path), body, contentType, Secret);
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        }
        await SendAsync("slack/commands", SlackRequests.Form(SlackRequests.SlashCommand("start slack_storm", "UREQ", Channel, "trig-storm", slack.ResponseUrl("storm"))),
            "application/x-www-form-urlencoded");
        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Any(m => m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal))),
            "the card to be posted through the 429s", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output + serve.Error));
        var card = slack.Messages.First(m => m.ThreadTs is null && m.Text.Contains("D-1", StringComparison.Ordinal));
        var n = 0;
        foreach (var user in new[] { "UDAN", "USAM", "UOLGA", "UPETE" })
            await SendAsync("slack/events", SlackRequests.Reaction($"EvStorm{++n}", user, Channel, card.Ts, "white_check_mark").ToJsonString(), "application/json");

        await Poll.UntilAsync(() => Task.FromResult(slack.Messages.Single(m => m.Ts == card.Ts).Text.Contains("COMPLETED", StringComparison.Ordinal)),
            "the card to show COMPLETED", TimeSpan.FromMinutes(4), () => Task.FromResult(serve.Error));
        await Poll.UntilAsync(async () => await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.outbox WHERE platform = 'Slack' AND sent_at IS NULL AND parked_at IS NULL") == 0,
            "the Slack outbox to be empty", TimeSpan.FromMinutes(2), () => Task.FromResult(serve.Error));
        serve.Signal("TERM");
        var result = await serve.WaitAsync();
        Assert.True(result.ExitCode == 0, result.Output + result.Error);

        // Nothing was given up on: every message the bot wrote for Slack was confirmed sent.
        Assert.Equal(0L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE platform = 'Slack' AND sent_at IS NULL"));
        // What the bot wrote for the channel, in the order written (the outbox's ids), as the calls Slack should have accepted:
        // each post and thread reply by the ts Slack gave it, each edit and reaction by the ts of the message it is about.
        var written = (await state.ScalarAsync<string>("""
            SELECT coalesce(string_agg(o.kind || ' ' || coalesce(o.platform_id, t.platform_id, o.target, '-'), E'\n' ORDER BY o.id), '')
            FROM chatops_state.outbox o LEFT JOIN chatops_state.outbox t ON t.platform = o.platform AND t.key = o.target
            WHERE o.platform = 'Slack' AND o.channel = $1
            """, Channel)).Split('\n').Select(line => line.Split(' ') switch
            {
                ["Post" or "Reply", var ts] => $"chat.postMessage {ts}",
                ["Edit", var ts] => $"chat.update {ts}",
                ["React", var ts] => $"reactions.add {ts}",
                ["Private", _] => "private reply",
                var other => string.Join(' ', other),
            }).ToList();
        // What Slack accepted, in the order it accepted it: a lost message would be missing, one sent twice would be there twice,
        // one overtaken by a later one would be out of place (the fake gives each accepted post the next ts).
        var posted = new Queue<string>(slack.Messages.Where(m => m.Channel == Channel).Select(m => m.Ts));
        var accepted = slack.Calls.Where(c => c.Answer is "ok" or "already_reacted").Select(c => c.Method switch
        {
            "chat.postMessage" => $"chat.postMessage {posted.Dequeue()}",
            "chat.update" => $"chat.update {c.Arg("ts")}",
            "reactions.add" => $"reactions.add {c.Arg("timestamp")}",
            "response_url" or "chat.postEphemeral" => "private reply",
            _ => null,
        }).OfType<string>().ToList();
        Assert.Equal(written, accepted);
        Assert.True(written.Count(w => w.StartsWith("chat.postMessage", StringComparison.Ordinal)) >= 10, string.Join('\n', written));

        // The storm happened, and each 429 was waited out (Retry-After: 1) and answered by sending the same message again.
        foreach (var method in new[] { "chat.postMessage", "chat.update" })
        {
            var calls = slack.CallsOf(method);
            var refused = calls.Select((c, i) => (Call: c, Index: i)).Where(c => c.Call.Answer == "429").ToList();
            Assert.True(refused.Count >= (method == "chat.update" ? 2 : 5), $"{method}: {refused.Count} answers of 429 in {calls.Count} calls");
            foreach (var (call, index) in refused)
            {
                var retry = calls[index + 1];
                Assert.Equal(call.Body, retry.Body);
                Assert.True(retry.At - call.At >= TimeSpan.FromSeconds(1) - TimeSpan.FromMilliseconds(5),
                    $"{method} sent again {(retry.At - call.At).TotalMilliseconds:0} ms after a 429 with Retry-After: 1");
            }
        }
        // The thread tells the run in its order: phase by phase, the verdict after the last.
        var thread = slack.Messages.Where(m => m.ThreadTs == card.Ts).Select(m => m.Text).ToList();
        var phases = Enumerable.Range(1, 4).Select(p => thread.FindIndex(t => t.Contains($"phase {p} ·", StringComparison.Ordinal))).ToList();
        Assert.DoesNotContain(-1, phases);
        Assert.Equal(phases.Order(), phases);
        Assert.True(thread.FindIndex(t => t.Contains("VERDICT: SUCCESS", StringComparison.Ordinal)) > phases[^1], string.Join('\n', thread));
        Assert.DoesNotContain(FakeSlackServer.BotToken, result.Output + result.Error);
    }

    [Fact]
    public async Task A_bot_token_slack_refuses_stops_start_up_as_bad_configuration_without_printing_the_token()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        // A well-formed bot token that is not (or no longer) the app's: the fake answers auth.test with invalid_auth, as Slack does.
        const string revoked = "xoxb-1111-2222-revokedTokenValue";
        using var folder = new MigrationFolder().With("slack_never", "CREATE TABLE slack_never (id int);\n");
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", $"http://127.0.0.1:{Ports.Free()}"], HttpServe(folder, slack, botToken: revoked));

        Assert.True(result.ExitCode == Cli.ExitCodes.Refused, $"exit {result.ExitCode}\n{result.Output}{result.Error}");
        Assert.Contains("The configuration is not valid:", result.Error, StringComparison.Ordinal);
        Assert.Contains("Slack refused Slack:BotToken (invalid_auth)", result.Error, StringComparison.Ordinal);
        Assert.Contains("Bot User OAuth Token of the installed app (xoxb-", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unexpected error", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(revoked, result.Output + result.Error, StringComparison.Ordinal);
        Assert.Equal("invalid_auth", Assert.Single(slack.CallsOf("auth.test")).Answer);
        Assert.Empty(slack.CallsOf("chat.postMessage"));
    }
}

/// <summary>Two replicas of <c>serve</c> over Socket Mode on one state database: only one holds the socket, and the other takes it over when it stops.</summary>
public class SlackSocketHolderTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Only_one_replica_holds_the_socket_mode_connection_and_another_takes_it_over_when_it_stops()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        using var folder = new MigrationFolder();
        Dictionary<string, string> Environment() => folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", state.ConnectionString),
            ("Slack__BotToken", FakeSlackServer.BotToken), ("Slack__AppToken", FakeSlackServer.AppToken), ("Slack__SigningSecret", "fake-signing-secret"),
            ("Slack__ChannelId", "C0OPS"), ("Slack__ApiBaseUrl", slack.ApiBaseUrl.AbsoluteUri),
            ("ChatOps__Roles__DatabaseAdministrator__0", "UDAN"), ("ChatOps__Roles__SeniorBackendEngineer__0", "USAM"),
            ("ChatOps__Roles__DevOpsLead__0", "UOLGA"), ("ChatOps__Roles__ProductOwner__0", "UPETE"));
        using var http = new HttpClient();
        async Task ReadyAsync(Uri url, ChatOpsProcess.Running process) => await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(url, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "a replica to be ready", TimeSpan.FromMinutes(1), () => Task.FromResult(process.Error));

        var firstUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var first = ChatOpsProcess.Start(["serve", "--urls", firstUrl.AbsoluteUri.TrimEnd('/')], Environment());
        await ReadyAsync(firstUrl, first);
        await Poll.WithinAsync(slack.SocketAsync(1), "the first replica to open the socket", TimeSpan.FromMinutes(1));
        var secondUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var second = ChatOpsProcess.Start(["serve", "--urls", secondUrl.AbsoluteUri.TrimEnd('/')], Environment());
        await ReadyAsync(secondUrl, second);
        // Long enough for the second replica to have tried the lock more than once (it tries every 2 s).
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Equal(1, slack.ConnectionsOpened);
        Assert.Contains("holds Slack Socket Mode", first.Error);
        Assert.DoesNotContain("holds Slack Socket Mode", second.Error);

        first.Signal("TERM");
        Assert.Equal(0, (await first.WaitAsync()).ExitCode);
        await Poll.UntilAsync(() => Task.FromResult(second.Error.Contains("holds Slack Socket Mode", StringComparison.Ordinal) && slack.ConnectionsOpened == 2),
            "the second replica to take the socket over", TimeSpan.FromMinutes(1), () => Task.FromResult(second.Error));
        await Poll.WithinAsync(slack.SocketAsync(2), "the second replica's socket", TimeSpan.FromMinutes(1));
        second.Signal("TERM");
        Assert.Equal(0, (await second.WaitAsync()).ExitCode);
    }
}
