using ChatOps.Core.Conversation;
using ChatOps.Discord.Gateway;
using ChatOps.Testing;
using ChatOps.Testing.FakeDiscord;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Discord.Tests;

public sealed class GatewayTests : IAsyncLifetime
{
    private static readonly GatewayTiming Fast = new(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(50))
    {
        DownTolerated = TimeSpan.FromSeconds(2),
    };

    private readonly RecordingInbox _inbox = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<MessageReference> _openCards = [];
    private FakeDiscordServer _fake = null!;
    private DiscordGateway _gateway = null!;
    private MemberRoles _roles = null!;
    private Task _running = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _fake = await FakeDiscordServer.StartAsync();
        var options = Discord.Options(_fake);
        var rest = Discord.Rest(options);
        _roles = new MemberRoles(rest, options, TimeProvider.System);
        _gateway = new DiscordGateway(rest, options, _inbox, _roles, TimeProvider.System, NullLogger<DiscordGateway>.Instance,
            _ => Task.FromResult<IReadOnlyCollection<MessageReference>>([.. _openCards]), Fast);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Poll.EndedAsync(_running);
        await _fake.DisposeAsync();
        _stop.Dispose();
    }

    private async Task StartAsync(int handshakes = 1)
    {
        _running = Task.Run(() => _gateway.RunAsync(_stop.Token));
        await ReadyAfterAsync(handshakes);
    }

    private Task ReadyAfterAsync(int handshakes) => Poll.UntilAsync(
        () => Task.FromResult(_fake.Gateway.Handshakes.Count >= handshakes && _gateway.State is GatewayState.Ready && _fake.Gateway.HasReadyClient),
        $"the gateway ready after {handshakes} handshake(s)",
        lastSeen: () => Task.FromResult($"{_gateway.State}, {_fake.Gateway.Handshakes.Count} handshakes"));

    private Task<long> ReactAsync(string user, string emoji = "✅", string message = "500000000000000001", params string[] roles) =>
        _fake.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd(Discord.GuildId, Discord.ChannelId, message, user, emoji, roles));

    private Task EventsAsync(int count) => Poll.UntilAsync(() => Task.FromResult(_inbox.Events.Count >= count), $"{count} events in the inbox",
        lastSeen: () => Task.FromResult($"{_inbox.Events.Count}"));

    [Fact]
    public async Task It_identifies_with_the_guild_and_reaction_intents_and_beats()
    {
        await StartAsync();
        var identify = Assert.Single(_fake.Gateway.Handshakes);
        Assert.Equal(("IDENTIFY", "/gateway", _fake.BotToken, 1025), (identify.Kind, identify.Endpoint, identify.Token, identify.Intents));
        await Poll.UntilAsync(() => Task.FromResult(_fake.Gateway.Heartbeats >= 2), "two heartbeats");
        Assert.Equal(_fake.BotUserId, _gateway.BotUserId);
    }

    [Fact]
    public async Task Without_thread_replies_a_message_is_not_read_and_with_them_a_person_s_thread_message_becomes_a_thread_reply()
    {
        await StartAsync();
        Assert.Equal(1025, Assert.Single(_fake.Gateway.Handshakes).Intents);   // no privileged intent unless asked for
        await _fake.Gateway.DispatchAsync("MESSAGE_CREATE", Message("300000000000000001", "went well"));
        await ReactAsync("300000000000000002");
        await EventsAsync(1);
        Assert.IsType<ReactionAdded>(Assert.Single(_inbox.Events));

        await using var fake = await FakeDiscordServer.StartAsync();
        var options = Discord.Options(fake);
        options.ThreadReplies = true;
        var rest = Discord.Rest(options);
        var inbox = new RecordingInbox();
        using var stop = new CancellationTokenSource();
        var gateway = new DiscordGateway(rest, options, inbox, new MemberRoles(rest, options, TimeProvider.System), TimeProvider.System,
            NullLogger<DiscordGateway>.Instance, null, Fast);
        var running = Task.Run(() => gateway.RunAsync(stop.Token));
        await Poll.UntilAsync(() => Task.FromResult(gateway.State is GatewayState.Ready && fake.Gateway.HasReadyClient), "the second gateway ready");
        Assert.Equal(1025 | (1 << 9) | (1 << 15), Assert.Single(fake.Gateway.Handshakes).Intents);

        await fake.Gateway.DispatchAsync("MESSAGE_CREATE", Message("300000000000000001", "went well: no lock waits"));
        await fake.Gateway.DispatchAsync("MESSAGE_CREATE", Message("300000000000000009", "📊 status", bot: true));
        await Poll.UntilAsync(() => Task.FromResult(inbox.Events.Count >= 1), "the reply in the inbox");
        await Task.Delay(300);
        var reply = Assert.IsType<ThreadReplied>(Assert.Single(inbox.Events));
        Assert.Equal(("300000000000000001", "went well: no lock waits"), (reply.UserId, reply.Text));
        Assert.Equal(new MessageReference("500000000000000001", "500000000000000001"), reply.Parent);   // the thread started on the card has its id
        await stop.CancelAsync();
        await Poll.EndedAsync(running);
    }

    private static System.Text.Json.Nodes.JsonObject Message(string author, string content, bool bot = false) => new()
    {
        ["guild_id"] = Discord.GuildId, ["channel_id"] = "500000000000000001", ["id"] = "600000000000000001", ["content"] = content,
        ["author"] = new System.Text.Json.Nodes.JsonObject { ["id"] = author, ["bot"] = bot },
    };

    [Fact]
    public async Task Reaction_dispatches_become_events_with_stable_ids_and_prime_the_roles()
    {
        await StartAsync();
        var seq = await ReactAsync("300000000000000001", roles: ["400000000000000001"]);
        await _fake.Gateway.DispatchAsync("MESSAGE_REACTION_REMOVE", FakeGateway.ReactionRemove(Discord.GuildId, Discord.ChannelId, "500000000000000001", "300000000000000001", "✅"));
        await ReactAsync("300000000000000002", "⏪");
        await ReactAsync("300000000000000003", "👍");
        await _fake.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd("999999999999999999", Discord.ChannelId, "500000000000000001", "300000000000000004", "✅"));
        await EventsAsync(4);

        var events = _inbox.Events;
        var added = Assert.IsType<ReactionAdded>(events[0]);
        Assert.Equal(("300000000000000001", new MessageReference(Discord.ChannelId, "500000000000000001"), ReactionEmoji.SignOff, "✅"),
            (added.UserId, added.Message, added.Emoji, added.EmojiName));
        Assert.Equal($"{_fake.Gateway.CurrentSessionId}:{seq}", added.EventId);
        Assert.IsType<ReactionRemoved>(events[1]);
        Assert.Equal(ReactionEmoji.Rollback, Assert.IsType<ReactionAdded>(events[2]).Emoji);
        Assert.Equal((ReactionEmoji.Other, "👍"), (((ReactionAdded)events[3]).Emoji, ((ReactionAdded)events[3]).EmojiName));
        // The member's roles came with the event: asking for them costs no request.
        Assert.Equal(["400000000000000001"], await _roles.OfAsync("300000000000000001", CancellationToken.None));
        Assert.DoesNotContain(_fake.Requests, r => r.Path.Contains("/members/", StringComparison.Ordinal));
        // Another guild's reaction is not ours.
        await ReactAsync("300000000000000005");
        await EventsAsync(5);
        Assert.DoesNotContain(_inbox.Events, e => e.UserId == "300000000000000004");
    }

    [Fact]
    public async Task A_withheld_ack_makes_it_reconnect_and_resume_with_the_session_and_last_sequence()
    {
        await StartAsync();
        var session = _fake.Gateway.CurrentSessionId;
        await ReactAsync("300000000000000001");
        var last = await ReactAsync("300000000000000002");
        await EventsAsync(2);
        _fake.Gateway.WithholdAcks();

        await ReadyAfterAsync(2);
        var resume = _fake.Gateway.Handshakes[1];
        Assert.Equal(("RESUME", "/gateway-resume", session, last), (resume.Kind, resume.Endpoint, resume.SessionId, resume.Sequence));
        Assert.Equal(2, _inbox.Events.Count);
    }

    [Fact]
    public async Task Reconnect_resumes_and_events_missed_meanwhile_are_replayed_once()
    {
        await StartAsync();
        var session = _fake.Gateway.CurrentSessionId;
        var seq = await ReactAsync("300000000000000001");
        await EventsAsync(1);
        await _fake.Gateway.SendReconnectAsync();
        await ReadyAfterAsync(2);
        Assert.Equal(("RESUME", session, seq), (_fake.Gateway.Handshakes[1].Kind, _fake.Gateway.Handshakes[1].SessionId, _fake.Gateway.Handshakes[1].Sequence));

        await ReactAsync("300000000000000002");
        await EventsAsync(2);
        Assert.Equal(2, _inbox.Events.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task An_event_the_inbox_could_not_take_is_replayed_after_a_resume()
    {
        await StartAsync();
        _inbox.Failure = new InvalidOperationException("database down");
        var seq = await ReactAsync("300000000000000001");
        await Poll.UntilAsync(() => Task.FromResult(_fake.Gateway.Handshakes.Count >= 2), "a resume after the failure");
        Assert.Equal(seq - 1, _fake.Gateway.Handshakes[1].Sequence);
        _inbox.Failure = null;
        await EventsAsync(1);
        Assert.Equal("300000000000000001", _inbox.Events[0].UserId);
        Assert.EndsWith($":{seq}", _inbox.Events[0].EventId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_session_not_resumable_identifies_afresh()
    {
        await StartAsync();
        var first = _fake.Gateway.CurrentSessionId;
        await _fake.Gateway.SendInvalidSessionAsync(resumable: false);
        await ReadyAfterAsync(2);
        Assert.Equal("IDENTIFY", _fake.Gateway.Handshakes[1].Kind);
        Assert.Equal("/gateway", _fake.Gateway.Handshakes[1].Endpoint);
        Assert.NotEqual(first, _fake.Gateway.CurrentSessionId);
    }

    [Fact]
    public async Task Invalid_session_resumable_resumes()
    {
        await StartAsync();
        await _fake.Gateway.SendInvalidSessionAsync(resumable: true);
        await ReadyAfterAsync(2);
        Assert.Equal("RESUME", _fake.Gateway.Handshakes[1].Kind);
    }

    [Theory]
    [InlineData(4009)]
    [InlineData(4007)]
    public async Task A_lost_session_close_code_identifies_afresh(int code)
    {
        await StartAsync();
        await _fake.Gateway.CloseAsync(code);
        await ReadyAfterAsync(2);
        Assert.Equal("IDENTIFY", _fake.Gateway.Handshakes[1].Kind);
    }

    [Fact]
    public async Task Another_close_code_resumes()
    {
        await StartAsync();
        await _fake.Gateway.CloseAsync(4000);
        await ReadyAfterAsync(2);
        Assert.Equal("RESUME", _fake.Gateway.Handshakes[1].Kind);
    }

    [Theory]
    [InlineData(4004)]
    [InlineData(4014)]
    public async Task A_fatal_close_code_stops_without_reconnecting_and_says_why(int code)
    {
        await StartAsync();
        await _fake.Gateway.CloseAsync(code);
        await Poll.WithinAsync(_running, "the gateway stopping");
        var stopped = Assert.IsType<GatewayState.Stopped>(_gateway.State);
        Assert.True(stopped.Fatal);
        Assert.Contains(code.ToString(System.Globalization.CultureInfo.InvariantCulture), stopped.Why, StringComparison.Ordinal);
        Assert.Equal(1, _fake.Gateway.Connections);
        var readiness = _gateway.Readiness();
        Assert.Null(readiness.Degraded);
        Assert.Contains($"stopped for good: {stopped.Why}", readiness.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_it_reconnects_it_is_ready_but_degraded_until_it_has_been_down_too_long_and_ready_again_once_back()
    {
        Assert.Contains("not ready yet since start-up", _gateway.Readiness().Problem, StringComparison.Ordinal);
        await StartAsync();
        Assert.Equal(new GatewayReadiness(null, null), _gateway.Readiness());

        // The Gateway goes down (a resumable close, and every attempt to reconnect refused).
        _fake.Gateway.Refusing = true;
        await _fake.Gateway.CloseAsync(4000);
        await Poll.UntilAsync(() => Task.FromResult(_fake.Gateway.Refused >= 1 && _gateway.Readiness() is { Problem: null, Degraded: not null }),
            "a refused reconnect, the gateway ready but degraded", lastSeen: () => Task.FromResult($"{_gateway.Readiness()}, {_fake.Gateway.Refused} refused"));
        Assert.Contains("the Discord Gateway is reconnecting (resuming its session; down since ", _gateway.Readiness().Degraded, StringComparison.Ordinal);
        Assert.IsType<GatewayState.Resuming>(_gateway.State);   // in the backoff too, never Ready while the connection is gone

        // Down for longer than tolerated (2 s here): not ready, saying how long.
        await Poll.UntilAsync(() => Task.FromResult(_gateway.Readiness().Problem is not null), "readiness to fail after 2 s down",
            lastSeen: () => Task.FromResult(_gateway.Readiness().ToString()));
        Assert.Contains("has been reconnecting since", _gateway.Readiness().Problem, StringComparison.Ordinal);
        Assert.Contains("longer than 00:00:02", _gateway.Readiness().Problem, StringComparison.Ordinal);

        _fake.Gateway.Refusing = false;
        await ReadyAfterAsync(2);
        Assert.Equal("RESUME", _fake.Gateway.Handshakes[1].Kind);
        Assert.Equal(new GatewayReadiness(null, null), _gateway.Readiness());
    }

    // The current session's listing of the card (its id says session and card), once the reconciler handed it on.
    private async Task<SignOffReactionsListed> ListingAsync(string cardId)
    {
        SignOffReactionsListed? Listing() => _inbox.Events.OfType<SignOffReactionsListed>()
            .SingleOrDefault(e => e.EventId == $"reconcile:{_fake.Gateway.CurrentSessionId}:{cardId}:✅");
        await Poll.UntilAsync(() => Task.FromResult(Listing() is not null), $"the session's listing of {cardId} in the inbox",
            lastSeen: () => Task.FromResult(string.Join(", ", _inbox.Events.Select(e => e.EventId))));
        return Listing()!;
    }

    [Fact]
    public async Task Reactions_made_while_disconnected_are_listed_in_one_event_per_card_after_a_new_session_but_not_the_bots()
    {
        var card = _fake.AddMessage(Discord.ChannelId, "card");
        _openCards.Add(new MessageReference(Discord.ChannelId, card.Id));
        _fake.AddReaction(card.Id, "✅", _fake.BotUserId);
        await StartAsync();
        Assert.Empty((await ListingAsync(card.Id)).Users);   // the first session: only the bot's own ✅

        // While the bot is not listening (nothing dispatched), three people sign; then the session is lost.
        foreach (var user in new[] { "300000000000000001", "300000000000000002", "300000000000000003" })
            _fake.AddReaction(card.Id, "✅", user);
        await _fake.Gateway.CloseAsync(4009);
        await ReadyAfterAsync(2);

        var listing = await ListingAsync(card.Id);
        Assert.Equal(["300000000000000001", "300000000000000002", "300000000000000003"], listing.Users.Order());
        Assert.Equal(new MessageReference(Discord.ChannelId, card.Id), listing.Card);
        Assert.Equal(2, _inbox.Events.Count);   // one listing per card and session, none per person
        Assert.Contains(_fake.Requests, r => r.Path.Contains("/reactions/%E2%9C%85?limit=100", StringComparison.Ordinal));
        // When it was read: before its page was asked for, after the last session's listing.
        var pages = _fake.Requests.Where(r => r.Path.Contains("/reactions/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, pages.Count);
        Assert.InRange(listing.ListedAt!.Value, pages[0].At, pages[1].At);
    }

    [Fact]
    public async Task A_reaction_removed_while_disconnected_is_missing_from_the_next_listing()
    {
        var card = _fake.AddMessage(Discord.ChannelId, "card");
        _openCards.Add(new MessageReference(Discord.ChannelId, card.Id));
        foreach (var user in new[] { _fake.BotUserId, "300000000000000001", "300000000000000002" })
            _fake.AddReaction(card.Id, "✅", user);
        await StartAsync();
        Assert.Equal(["300000000000000001", "300000000000000002"], (await ListingAsync(card.Id)).Users);

        _fake.RemoveReaction(card.Id, "✅", "300000000000000002");
        await _fake.Gateway.CloseAsync(4009);
        await ReadyAfterAsync(2);

        Assert.Equal(["300000000000000001"], (await ListingAsync(card.Id)).Users);
    }

    [Fact]
    public async Task A_card_that_is_gone_is_skipped_and_lists_nobody()
    {
        var card = _fake.AddMessage(Discord.ChannelId, "card");
        var gone = _fake.AddMessage(Discord.ChannelId, "deleted card");
        _fake.AddReaction(card.Id, "✅", "300000000000000001");
        _fake.AddReaction(gone.Id, "✅", "300000000000000001");
        _fake.DeleteMessage(gone.Id);
        await StartAsync();
        await _gateway.ReconcileAsync([new MessageReference(Discord.ChannelId, gone.Id), new MessageReference(Discord.ChannelId, card.Id)], CancellationToken.None);

        // An empty listing would revoke every sign-off by reaction: a card that cannot be read says nothing instead.
        var listing = Assert.IsType<SignOffReactionsListed>(Assert.Single(_inbox.Events));
        Assert.Equal((card.Id, "300000000000000001"), (listing.Card.MessageId, Assert.Single(listing.Users)));
    }

    [Fact]
    public async Task Reconciliation_pages_through_more_than_a_hundred_reactions_into_one_listing()
    {
        var card = _fake.AddMessage(Discord.ChannelId, "card");
        var users = Enumerable.Range(1, 130).Select(i => (300000000000000000L + i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var user in users)
            _fake.AddReaction(card.Id, "✅", user);
        await StartAsync();
        await _gateway.ReconcileAsync([new MessageReference(Discord.ChannelId, card.Id)], CancellationToken.None);
        Assert.Equal(users, Assert.IsType<SignOffReactionsListed>(Assert.Single(_inbox.Events)).Users.Order());
        Assert.Contains(_fake.Requests, r => r.Path.Contains($"after={users[99]}", StringComparison.Ordinal));
    }
}
