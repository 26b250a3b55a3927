using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Testing.FakeSlack;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack.Tests;

/// <summary>The Slack IChatChannel against the fake Slack.</summary>
public sealed class SlackChannelTests : IAsyncLifetime
{
    private readonly InstantTimeProvider _time = new();
    private readonly CollectingLoggerProvider _logs = new();
    private readonly HttpClient _http = new();
    private FakeSlackServer _slack = null!;
    private SlackChannel _channel = null!;

    private static readonly RoleHolders Roles = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "UALICE", "group:SDBA" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "group:SSRE" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "UCAROL" },
    });

    public async Task InitializeAsync()
    {
        _slack = await FakeSlackServer.StartAsync();
        _channel = NewChannel(FakeSlackServer.BotToken);
    }

    private SlackChannel NewChannel(string token)
    {
        var loggers = _logs.Factory();
        return new SlackChannel(new SlackApiClient(_http, _slack.ApiBaseUrl, token, _time, loggers.CreateLogger<SlackApiClient>()), Roles, _time,
            loggers.CreateLogger<SlackChannel>());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _slack.DisposeAsync();
    }

    private static readonly ChatMessage Card = new("🗄️ D-17 · add_index → production", "⏳ AWAITING SIGN-OFF (2/4)")
    {
        Fields = [new("requested by", "<@UERIN>", Inline: true), new("sha256", "3f9c…a21b", Inline: true)],
        Footer = "Runs when all four have signed",
    };

    [Fact]
    public async Task Initialize_learns_the_bots_user_id()
    {
        Assert.Throws<InvalidOperationException>(() => _channel.BotUserId);
        await _channel.InitializeAsync(CancellationToken.None);
        Assert.Equal(FakeSlackServer.BotUserId, _channel.BotUserId);
    }

    [Fact]
    public async Task A_refused_token_fails_initialize_saying_which_setting_to_fix()
    {
        // A configuration failure, as a missing key is: the command line reports it as such.
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => NewChannel("xoxb-revoked").InitializeAsync(CancellationToken.None));

        var failure = Assert.Single(ex.Failures);
        Assert.Contains("Slack refused Slack:BotToken (invalid_auth)", failure);
        Assert.Contains("xoxb-", failure);
        Assert.DoesNotContain("xoxb-revoked", failure);
    }

    [Fact]
    public async Task Post_edit_and_thread_reply_use_post_message_update_and_thread_ts_with_blocks_every_time()
    {
        var card = await _channel.PostAsync("COPS", Card, CancellationToken.None);
        await _channel.EditAsync(card, Card with { Status = "🟢 APPROVED FOR DEPLOYMENT" }, CancellationToken.None);
        var reply = await _channel.ReplyInThreadAsync(card, new ChatMessage("📊 D-17 status"), CancellationToken.None);

        var messages = _slack.Messages;
        Assert.Equal(2, messages.Count);
        Assert.Equal(new MessageReference("COPS", messages[0].Ts), card);
        Assert.Equal(1, messages[0].Edits);
        Assert.Contains("APPROVED FOR DEPLOYMENT", messages[0].Text);
        Assert.Contains("APPROVED FOR DEPLOYMENT", messages[0].Blocks!.ToJsonString());
        Assert.Equal(new MessageReference("COPS", messages[1].Ts), reply);
        Assert.Equal(card.MessageId, messages[1].ThreadTs);
        Assert.NotNull(_slack.CallsOf("chat.update").Single().Arguments["blocks"]);
    }

    [Fact]
    public async Task A_reply_to_the_caller_goes_to_the_response_url_as_ephemeral()
    {
        var responseUrl = _slack.ResponseUrl("cmd-1");

        await _channel.ReplyToUserAsync(new Caller("COPS", "UANA", responseUrl.AbsoluteUri), new ChatMessage("❌ unknown sub-command"), CancellationToken.None);

        var response = Assert.Single(_slack.Responses);
        Assert.Equal("cmd-1", response.ResponseId);
        Assert.Equal("ephemeral", response.Body["response_type"]!.GetValue<string>());
        Assert.Contains("unknown sub-command", response.Body["text"]!.GetValue<string>());
        Assert.Null(_slack.CallsOf("response_url").Single().Authorization);
        Assert.Empty(_slack.Messages);
    }

    [Fact]
    public async Task Without_a_usable_response_url_the_reply_is_post_ephemeral()
    {
        await _channel.ReplyToUserAsync(new Caller("COPS", "UANA"), new ChatMessage("help"), CancellationToken.None);
        _slack.FailNext("response_url", 1, new FakeSlackFailure.Error("expired_url"));
        await _channel.ReplyToUserAsync(new Caller("COPS", "UBEN", _slack.ResponseUrl("old").AbsoluteUri), new ChatMessage("status"), CancellationToken.None);

        Assert.Equal(["UANA", "UBEN"], _slack.Ephemerals.Select(e => e.ThreadTs));
        Assert.Empty(_slack.Responses);
    }

    [Fact]
    public async Task Reactions_map_to_slack_names_and_already_reacted_is_success()
    {
        var card = await _channel.PostAsync("COPS", Card, CancellationToken.None);

        await _channel.AddReactionAsync(card, ReactionEmoji.Rollback, CancellationToken.None);
        await _channel.AddReactionAsync(card, ReactionEmoji.Rollback, CancellationToken.None);
        await _channel.AddReactionAsync(card, ReactionEmoji.SignOff, CancellationToken.None);

        Assert.True(_slack.HasReaction("COPS", card.MessageId, "rewind"));
        Assert.True(_slack.HasReaction("COPS", card.MessageId, "white_check_mark"));
        Assert.Equal(["ok", "already_reacted", "ok"], _slack.CallsOf("reactions.add").Select(c => c.Answer));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _channel.AddReactionAsync(card, ReactionEmoji.Other, CancellationToken.None));
        _slack.FailNext("reactions.add", 1, new FakeSlackFailure.Error("message_not_found"));
        Assert.Equal("message_not_found", (await Assert.ThrowsAsync<SlackApiException>(
            () => _channel.AddReactionAsync(card, ReactionEmoji.SignOff, CancellationToken.None))).Error);
    }

    [Fact]
    public async Task Group_membership_comes_from_usergroups_and_is_cached_for_a_few_minutes()
    {
        _slack.SetUserGroup("SDBA", "UDAVE", "UERIN");
        _slack.SetUserGroup("SSRE", "UDAVE");

        Assert.Equal(new HashSet<string> { "SDBA", "SSRE" }, await _channel.GroupsOfAsync("UDAVE", CancellationToken.None));
        Assert.Equal(new HashSet<string> { "SDBA" }, await _channel.GroupsOfAsync("UERIN", CancellationToken.None));
        Assert.Empty(await _channel.GroupsOfAsync("UALICE", CancellationToken.None));
        Assert.Equal(2, _slack.CallsOf("usergroups.users.list").Count);

        _slack.SetUserGroup("SSRE", "UDAVE", "UERIN");
        Assert.Equal(new HashSet<string> { "SDBA" }, await _channel.GroupsOfAsync("UERIN", CancellationToken.None));
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(new HashSet<string> { "SDBA", "SSRE" }, await _channel.GroupsOfAsync("UERIN", CancellationToken.None));
        Assert.Equal(4, _slack.CallsOf("usergroups.users.list").Count);
    }

    [Fact]
    public async Task An_image_is_uploaded_into_the_messages_thread()
    {
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 };
        var card = await _channel.PostAsync("COPS", new ChatMessage("📊 D-17 status") { Image = new MessageImage(png, "lock-wait.png", "lock wait, last 15 min") },
            CancellationToken.None);
        var reply = await _channel.ReplyInThreadAsync(card, new ChatMessage("📊 again") { Image = new MessageImage(png, "blocked.png", "blocked sessions") },
            CancellationToken.None);

        Assert.Equal(["files.getUploadURLExternal", "file upload", "files.completeUploadExternal"],
            _slack.Calls.Where(c => c.Method.StartsWith("file", StringComparison.Ordinal)).Select(c => c.Method).Take(3));
        var files = _slack.Files.Values.OrderBy(f => f.Id).ToList();
        Assert.Equal(2, files.Count);
        Assert.All(files, f =>
        {
            Assert.True(f.Completed);
            Assert.Equal(png, f.Content);
            Assert.Equal("COPS", f.Channel);
            Assert.Equal(card.MessageId, f.ThreadTs);
        });
        Assert.Equal(["lock-wait.png", "blocked.png"], files.Select(f => f.FileName));
        Assert.Equal("lock wait, last 15 min", files[0].AltText);
        Assert.Null(_slack.CallsOf("file upload")[0].Authorization);
        Assert.NotEqual(card, reply);
    }

    [Fact]
    public async Task A_failed_upload_leaves_the_message_standing()
    {
        _slack.FailNext("files.getUploadURLExternal", 1, new FakeSlackFailure.Error("invalid_arguments"));

        var card = await _channel.PostAsync("COPS", new ChatMessage("📊") { Image = new MessageImage(new byte[] { 1 }, "x.png", "x") }, CancellationToken.None);

        Assert.Equal(card.MessageId, Assert.Single(_slack.Messages).Ts);
        Assert.Contains(_logs.Lines, l => l.Contains("x.png", StringComparison.Ordinal) && l.Contains("invalid_arguments", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mentions_of_a_role_name_its_users_and_groups_in_the_message_and_its_notification_text()
    {
        var alert = new ChatMessage("🚨 D-17 rollback trigger")
        {
            Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.User("UDAVE"), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
        };

        await _channel.PostAsync("COPS", alert, CancellationToken.None);

        var posted = Assert.Single(_slack.Messages);
        const string expected = "<@UALICE> <!subteam^SDBA> <@UDAVE> <!subteam^SSRE>";
        Assert.EndsWith(expected, posted.Text);
        Assert.Contains(expected, posted.Blocks!.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
