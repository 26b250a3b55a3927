using System.Net;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Testing.FakeSlack;

namespace ChatOps.Slack.Tests;

/// <summary>The HTTP endpoints in a real host, with requests signed the way Slack signs them.</summary>
public sealed class EndpointTests : IAsyncLifetime
{
    private readonly RecordingInbox _inbox = new();
    private SlackEndpointHost _host = null!;

    public async Task InitializeAsync() => _host = await SlackEndpointHost.StartAsync(_inbox);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<HttpResponseMessage> SendAsync(string path, string body, string contentType, string? secret = null, DateTimeOffset? at = null, int? retry = null) =>
        _host.Client.SendAsync(SlackRequests.Signed(_host.Url(path), body, contentType, secret ?? SlackEndpointHost.SigningSecret, at, retry));

    private static string Form(IReadOnlyDictionary<string, string> fields) => SlackRequests.Form(fields);

    private static IReadOnlyDictionary<string, string> Command(string text, string channel = SlackEndpointHost.ChannelId, string trigger = "13345224609.738474920.8088930838d88f008e0") =>
        SlackRequests.SlashCommand(text, "UANA", channel, trigger, new Uri("https://hooks.slack.com/commands/TFAKE/1/abc"));

    [Fact]
    public async Task A_signed_slash_command_reaches_the_inbox_before_an_empty_200()
    {
        var response = await SendAsync("slack/commands", Form(Command("start add_index --target prod")), "application/x-www-form-urlencoded");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        var command = Assert.IsType<CommandReceived>(Assert.Single(_inbox.Offered));
        Assert.Equal(new CommandReceived("/migrate start add_index --target prod", "UANA", SlackEndpointHost.ChannelId,
            "13345224609.738474920.8088930838d88f008e0", "https://hooks.slack.com/commands/TFAKE/1/abc"), command);
        Assert.Equal("https://hooks.slack.com/commands/TFAKE/1/abc", command.Caller.ReplyHandle);
    }

    [Fact]
    public async Task A_command_from_another_channel_is_told_where_to_go_and_not_handed_on()
    {
        var response = await SendAsync("slack/commands", Form(Command("status", channel: "CRANDOM")), "application/x-www-form-urlencoded");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ephemeral", answer["response_type"]!.GetValue<string>());
        Assert.Contains($"<#{SlackEndpointHost.ChannelId}>", answer["text"]!.GetValue<string>());
        Assert.Empty(_inbox.Offered);
    }

    [Fact]
    public async Task A_reaction_on_a_message_becomes_the_cores_reaction_event_with_slacks_event_id()
    {
        var added = SlackRequests.Reaction("Ev01", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "white_check_mark");
        var removed = SlackRequests.Reaction("Ev02", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "thumbsup", removed: true);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", added.ToJsonString(), "application/json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", removed.ToJsonString(), "application/json")).StatusCode);

        var message = new MessageReference(SlackEndpointHost.ChannelId, "1700000000.000100");
        Assert.Equal<ChatEvent>(
            [
                new ReactionAdded("UDBA", message, ReactionEmoji.SignOff, "white_check_mark", "Ev01"),
                new ReactionRemoved("UDBA", message, ReactionEmoji.Other, "thumbsup", "Ev02"),
            ], _inbox.Offered);
    }

    [Fact]
    public async Task A_redelivered_event_is_handed_on_again_with_the_same_event_id_and_taken_once()
    {
        var body = SlackRequests.Reaction("Ev03", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "rewind").ToJsonString();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", body, "application/json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", body, "application/json", retry: 1)).StatusCode);

        Assert.Equal(2, _inbox.Offered.Count);
        Assert.All(_inbox.Offered, e => Assert.Equal("Ev03", e.EventId));
        Assert.Single(_inbox.Taken);
    }

    [Fact]
    public async Task Reactions_on_files_and_other_events_are_acknowledged_and_ignored()
    {
        var onFile = SlackRequests.Reaction("Ev04", "UDBA", SlackEndpointHost.ChannelId, "1", "white_check_mark", itemType: "file");
        var other = new JsonObject { ["type"] = "event_callback", ["event_id"] = "Ev05", ["event"] = new JsonObject { ["type"] = "app_mention", ["user"] = "U1" } };

        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", onFile.ToJsonString(), "application/json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", other.ToJsonString(), "application/json")).StatusCode);
        Assert.Empty(_inbox.Offered);
    }

    [Fact]
    public async Task When_the_inbox_fails_slack_gets_500_and_its_redelivery_is_taken()
    {
        var body = SlackRequests.Reaction("Ev06", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "white_check_mark").ToJsonString();
        _inbox.FailNext(1);

        Assert.Equal(HttpStatusCode.InternalServerError, (await SendAsync("slack/events", body, "application/json")).StatusCode);
        Assert.Empty(_inbox.Taken);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/events", body, "application/json", retry: 1)).StatusCode);
        Assert.Equal("Ev06", Assert.Single(_inbox.Taken).EventId);
    }

    [Fact]
    public async Task The_answer_waits_for_the_inbox()
    {
        var hold = _inbox.Hold();
        var body = SlackRequests.Reaction("Ev07", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "white_check_mark").ToJsonString();

        var response = SendAsync("slack/events", body, "application/json");
        await ChatOps.Testing.Poll.UntilAsync(() => Task.FromResult(_inbox.Offered.Count == 1), "the event offered to the inbox");
        Assert.False(response.IsCompleted, "Slack was answered before the inbox took the event");
        hold.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await ChatOps.Testing.Poll.WithinAsync(response, "the answer")).StatusCode);
    }

    [Fact]
    public async Task Url_verification_is_answered_with_the_challenge_only_when_signed()
    {
        var body = new JsonObject { ["token"] = "x", ["challenge"] = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", ["type"] = "url_verification" }.ToJsonString();

        var signed = await SendAsync("slack/events", body, "application/json");
        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        Assert.Equal("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", JsonNode.Parse(await signed.Content.ReadAsStringAsync())!["challenge"]!.GetValue<string>());

        var unsigned = await SendAsync("slack/events", body, "application/json", secret: "not-the-secret");
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.DoesNotContain("3eZbrw1a", await unsigned.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Interactions_are_verified_and_acknowledged()
    {
        var body = Form(new Dictionary<string, string> { ["payload"] = """{"type":"block_actions","user":{"id":"UANA"},"actions":[]}""" });

        Assert.Equal(HttpStatusCode.OK, (await SendAsync("slack/interactions", body, "application/x-www-form-urlencoded")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync("slack/interactions", body, "application/x-www-form-urlencoded", secret: "wrong")).StatusCode);
        Assert.Empty(_inbox.Offered);
    }

    public static TheoryData<string> Paths => new() { "slack/commands", "slack/events", "slack/interactions" };

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Wrong_secret_tampered_body_stale_or_future_timestamps_and_missing_headers_get_401(string path)
    {
        var body = path == "slack/events"
            ? SlackRequests.Reaction("Ev08", "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "white_check_mark").ToJsonString()
            : Form(Command("status"));
        var type = path == "slack/events" ? "application/json" : "application/x-www-form-urlencoded";

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(path, body, type, secret: "wrong-secret")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(path, body, type, at: DateTimeOffset.UtcNow.AddMinutes(-6))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(path, body, type, at: DateTimeOffset.UtcNow.AddMinutes(6))).StatusCode);

        var tampered = SlackRequests.Signed(_host.Url(path), body, type, SlackEndpointHost.SigningSecret);
        tampered.Content = new StringContent(body.Replace("UDBA", "UEVE").Replace("status", "rollback"), System.Text.Encoding.UTF8, type);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client.SendAsync(tampered)).StatusCode);

        foreach (var header in new[] { "X-Slack-Signature", "X-Slack-Request-Timestamp" })
        {
            var missing = SlackRequests.Signed(_host.Url(path), body, type, SlackEndpointHost.SigningSecret);
            missing.Headers.Remove(header);
            Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client.SendAsync(missing)).StatusCode);
        }

        var garbled = SlackRequests.Signed(_host.Url(path), body, type, SlackEndpointHost.SigningSecret);
        garbled.Headers.Remove("X-Slack-Signature");
        garbled.Headers.Add("X-Slack-Signature", "v0=not-hex");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client.SendAsync(garbled)).StatusCode);

        Assert.Empty(_inbox.Offered);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(path, path == "slack/interactions"
            ? Form(new Dictionary<string, string> { ["payload"] = """{"type":"block_actions"}""" }) : body, type)).StatusCode);
        Assert.All(_host.Logs.Lines, line => Assert.DoesNotContain(SlackEndpointHost.SigningSecret, line));
        Assert.Contains(_host.Logs.Lines, line => line.Contains("does not match", StringComparison.Ordinal));
    }
}
