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

    [Fact]
    public async Task Start_four_reactions_phases_in_the_thread_and_the_card_edited_to_completed()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var slack = await FakeSlackServer.StartAsync();
        using var folder = new MigrationFolder().With("slack_add", "CREATE TABLE slack_done (id int);\n", rollback: "DROP TABLE IF EXISTS slack_done;");
        var port = Ports.Free();
        var bot = new Uri($"http://127.0.0.1:{port}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("Slack__BotToken", FakeSlackServer.BotToken), ("Slack__SigningSecret", Secret), ("Slack__ChannelId", Channel),
            ("Slack__ApiBaseUrl", slack.ApiBaseUrl.AbsoluteUri),
            ("ChatOps__Roles__DatabaseAdministrator__0", "UDAN"), ("ChatOps__Roles__SeniorBackendEngineer__0", "USAM"),
            ("ChatOps__Roles__SeniorBackendEngineer__1", "UREQ"), ("ChatOps__Roles__DevOpsLead__0", "UOLGA"), ("ChatOps__Roles__ProductOwner__0", "UPETE"), ("ChatOps__PostDeployment__Extended", "00:00:02")));
        using var http = new HttpClient();
        await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(bot, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "serve to be ready", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output));

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
}
