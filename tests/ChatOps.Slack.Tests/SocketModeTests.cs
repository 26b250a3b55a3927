using System.Net;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Testing;
using ChatOps.Testing.FakeSlack;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack.Tests;

/// <summary>Socket Mode against the fake Slack's WebSocket.</summary>
public sealed class SocketModeTests : IAsyncLifetime
{
    private readonly RecordingInbox _inbox = new();
    private readonly InstantTimeProvider _time = new();
    private readonly CollectingLoggerProvider _logs = new();
    private readonly HttpClient _http = new();
    private readonly CancellationTokenSource _stop = new();
    private FakeSlackServer _slack = null!;
    private SlackSocketModeClient _client = null!;
    private Task _run = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _slack = await FakeSlackServer.StartAsync();
        _client = NewClient(FakeSlackServer.AppToken);
    }

    private SlackSocketModeClient NewClient(string appToken)
    {
        var loggers = _logs.Factory();
        var api = new SlackApiClient(_http, _slack.ApiBaseUrl, appToken, _time, loggers.CreateLogger<SlackApiClient>());
        return new SlackSocketModeClient(api, new SlackInbound(_inbox, SlackEndpointHost.ChannelId, loggers.CreateLogger<SlackInbound>()), _time,
            loggers.CreateLogger<SlackSocketModeClient>());
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Poll.WithinAsync(_run, "the Socket Mode client to stop");
        _stop.Dispose();
        _http.Dispose();
        await _slack.DisposeAsync();
    }

    private async Task<FakeSlackSocket> ConnectedAsync(int number)
    {
        var socket = await Poll.WithinAsync(_slack.SocketAsync(number), $"Socket Mode connection {number}");
        await Poll.UntilAsync(() => Task.FromResult(_client.State.IsReady && _slack.ConnectionsOpened == number), $"connected on socket {number}",
            lastSeen: () => Task.FromResult(_client.State.ToString()));
        return socket;
    }

    private static JsonObject Reaction(string eventId) =>
        SlackRequests.Reaction(eventId, "UDBA", SlackEndpointHost.ChannelId, "1700000000.000100", "white_check_mark");

    [Fact]
    public async Task An_envelope_is_acknowledged_by_its_id_only_after_the_inbox_took_it()
    {
        _run = _client.RunAsync(_stop.Token);
        var socket = await ConnectedAsync(1);
        Assert.Equal("Bearer " + FakeSlackServer.AppToken, _slack.CallsOf("apps.connections.open").Single().Authorization);
        var hold = _inbox.Hold();

        var envelope = await socket.SendEnvelopeAsync("events_api", Reaction("Ev10"));
        await Poll.UntilAsync(() => Task.FromResult(_inbox.Offered.Count == 1), "the event offered to the inbox");
        Assert.False(socket.IsAcknowledged(envelope), "acknowledged before the inbox took it");
        hold.SetResult();

        var ack = await Poll.WithinAsync(socket.AckAsync(envelope), "the acknowledgement");
        Assert.Equal(new JsonObject { ["envelope_id"] = envelope }.ToJsonString(), ack.ToJsonString());
        Assert.Equal(new ReactionAdded("UDBA", new MessageReference(SlackEndpointHost.ChannelId, "1700000000.000100"), ReactionEmoji.SignOff,
            "white_check_mark", "Ev10"), Assert.Single(_inbox.Taken));
    }

    [Fact]
    public async Task An_envelope_the_inbox_could_not_take_is_not_acknowledged_and_its_resend_is()
    {
        _run = _client.RunAsync(_stop.Token);
        var socket = await ConnectedAsync(1);
        _inbox.FailNext(1);

        await socket.SendEnvelopeAsync("events_api", Reaction("Ev11"), envelopeId: "env-a");
        await Poll.UntilAsync(() => Task.FromResult(_inbox.Offered.Count == 1), "the event offered to the inbox");
        // Slack resends what was not acknowledged: a second envelope carrying the same event.
        var resent = await socket.SendEnvelopeAsync("events_api", Reaction("Ev11"), envelopeId: "env-b");
        await Poll.WithinAsync(socket.AckAsync(resent), "the resend's acknowledgement");

        Assert.False(socket.IsAcknowledged("env-a"));
        Assert.Equal("Ev11", Assert.Single(_inbox.Taken).EventId);
    }

    [Fact]
    public async Task The_same_slash_command_gives_the_same_event_over_http_and_over_socket_mode()
    {
        var fields = SlackRequests.SlashCommand("start add_index --target prod", "UANA", SlackEndpointHost.ChannelId, "trigger-42",
            new Uri("https://hooks.slack.com/commands/TFAKE/42/xyz"));
        var httpInbox = new RecordingInbox();
        await using (var host = await SlackEndpointHost.StartAsync(httpInbox))
        {
            var response = await host.Client.SendAsync(SlackRequests.Signed(host.Url("slack/commands"), SlackRequests.Form(fields),
                "application/x-www-form-urlencoded", SlackEndpointHost.SigningSecret));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        _run = _client.RunAsync(_stop.Token);
        var socket = await ConnectedAsync(1);
        var envelope = await socket.SendEnvelopeAsync("slash_commands", SlackRequests.AsJson(fields), acceptsResponsePayload: true);
        var ack = await Poll.WithinAsync(socket.AckAsync(envelope), "the acknowledgement");

        var overHttp = Assert.IsType<CommandReceived>(Assert.Single(httpInbox.Offered));
        Assert.Equal(overHttp, Assert.Single(_inbox.Offered));
        Assert.Equal("/migrate start add_index --target prod", overHttp.Text);
        Assert.Equal("trigger-42", overHttp.EventId);
        Assert.Null(ack["payload"]);
    }

    [Fact]
    public async Task A_command_from_another_channel_is_answered_in_the_acknowledgement()
    {
        _run = _client.RunAsync(_stop.Token);
        var socket = await ConnectedAsync(1);
        var fields = SlackRequests.SlashCommand("status", "UANA", "CRANDOM", "trigger-7", null);

        var envelope = await socket.SendEnvelopeAsync("slash_commands", SlackRequests.AsJson(fields), acceptsResponsePayload: true);
        var ack = await Poll.WithinAsync(socket.AckAsync(envelope), "the acknowledgement");

        Assert.Equal("ephemeral", ack["payload"]!["response_type"]!.GetValue<string>());
        Assert.Contains($"<#{SlackEndpointHost.ChannelId}>", ack["payload"]!["text"]!.GetValue<string>());
        Assert.Empty(_inbox.Offered);
    }

    [Fact]
    public async Task A_disconnect_reconnects_at_once_with_a_fresh_url()
    {
        _run = _client.RunAsync(_stop.Token);
        var first = await ConnectedAsync(1);

        await first.DisconnectAsync("refresh_requested");
        var second = await ConnectedAsync(2);
        await Poll.WithinAsync(first.Closed, "the old socket closed");

        Assert.Equal(2, _slack.CallsOf("apps.connections.open").Count);
        Assert.Empty(_time.Waits);
        var envelope = await second.SendEnvelopeAsync("events_api", Reaction("Ev12"));
        await Poll.WithinAsync(second.AckAsync(envelope), "the acknowledgement on the new socket");
    }

    [Fact]
    public async Task Too_many_websockets_and_a_lost_connection_back_off_before_reconnecting()
    {
        _run = _client.RunAsync(_stop.Token);
        var first = await ConnectedAsync(1);

        await first.DisconnectAsync("too_many_websockets");
        var second = await ConnectedAsync(2);
        second.Abort();
        await ConnectedAsync(3);

        var waits = _time.Waits;
        Assert.Equal(2, waits.Count);
        // Backoff from 1 s, half of it random; the count of failures restarts after each hello.
        Assert.All(waits, w => Assert.InRange(w, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Failing_to_get_a_url_backs_off_exponentially_up_to_the_cap()
    {
        _slack.FailNext("apps.connections.open", 12, new FakeSlackFailure.Error("internal_error"));

        _run = _client.RunAsync(_stop.Token);
        await ConnectedAsync(1);

        var waits = _time.Waits;
        Assert.Equal(12, waits.Count);
        for (var i = 0; i < waits.Count; i++)
        {
            var full = Math.Min(Math.Pow(2, i), 120);
            Assert.InRange(waits[i].TotalSeconds, full / 2, full);
        }
    }

    [Fact]
    public async Task Link_disabled_stops_with_the_reason_in_the_state()
    {
        _run = _client.RunAsync(_stop.Token);
        var socket = await ConnectedAsync(1);

        await socket.DisconnectAsync("link_disabled");
        await Poll.WithinAsync(_run, "the client to stop");

        Assert.Equal(SocketModeStatus.Stopped, _client.State.Status);
        Assert.False(_client.State.IsReady);
        Assert.Contains("link_disabled", _client.State.Why);
        Assert.Equal(1, _slack.ConnectionsOpened);
        Assert.Contains(_logs.Lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("link_disabled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_refused_app_token_stops_saying_which_setting_to_fix()
    {
        var client = NewClient("xapp-revoked");

        await Poll.WithinAsync(client.RunAsync(_stop.Token), "the client to stop");

        Assert.Equal(SocketModeStatus.Stopped, client.State.Status);
        Assert.Contains("Slack:AppToken", client.State.Why);
        Assert.Contains("invalid_auth", client.State.Why);
        Assert.All(_logs.Lines, l => Assert.DoesNotContain("xapp-revoked", l));
    }
}
