using ChatOps.Bot.Local;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Bot.Tests;

public class LocalChannelTests
{
    private static readonly ChatMessage Card = new("🗄️ D-3 · add_index → db:5432/app", "⏳ AWAITING SIGN-OFF (0/4)")
    {
        Fields = [new("requested by", "ana", Inline: true), new("hash", "3f2a9c1", Inline: true)],
        Footer = "react ✅ to sign your role",
    };

    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_reply_for_one_user_says_whom_it_is_for_and_takes_no_message_id()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);

        await channel.ReplyToUserAsync(new Caller("ops", "ana"), new ChatMessage("⚠️ unknown sub-command"), None);
        var posted = await channel.PostAsync("ops", new ChatMessage("next"), None);

        Assert.Equal("── #ops · only for ana ──\n⚠️ unknown sub-command\n── #ops · message L1 ──\nnext\n", writer.ToString());
        Assert.Equal("L1", posted.MessageId);
    }

    [Fact]
    public async Task A_role_mention_names_the_role_s_holders_when_the_channel_knows_them()
    {
        var holders = new ChatOps.Core.Approvals.RoleHolders(new Dictionary<SignOffRole, IReadOnlySet<string>>
        {
            [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "olga", "dana" },
        });
        var writer = new StringWriter();
        var channel = new LocalChannel(writer) { Holders = holders };
        var alert = new ChatMessage("🚨 D-3: rollback trigger")
        {
            Fields = [new("who", $"ask {InlineMention.Of(new Mention.RoleGroup(SignOffRole.DatabaseAdministrator))}")],
            Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead), new Mention.User("ana")],
        };

        await channel.PostAsync("ops", alert, None);

        // Nobody holds DevOps/SRE Lead here: said as a role, as a channel without holders says every role.
        Assert.Equal("── #ops · message L1 ──\n🚨 D-3: rollback trigger\nwho: ask @Database Administrator (dana, olga)\n" +
                     "@Database Administrator (dana, olga) @DevOps/SRE Lead holders @ana\n", writer.ToString());
    }

    [Fact]
    public async Task Post_prints_a_header_with_channel_and_id_then_the_rendered_message()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);

        var posted = await channel.PostAsync("ops", Card, None);

        Assert.Equal(new MessageReference("ops", "L1"), posted);
        Assert.Equal(
            "── #ops · message L1 ──\n" +
            "🗄️ D-3 · add_index → db:5432/app   ⏳ AWAITING SIGN-OFF (0/4)\n" +
            "requested by: ana · hash: 3f2a9c1\n" +
            "react ✅ to sign your role\n",
            writer.ToString());
        Assert.Equal(Card, channel.Message(posted));
    }

    [Fact]
    public async Task Edit_prints_the_whole_message_again_marked_edited_and_keeps_the_last_version()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);
        var posted = await channel.PostAsync("ops", Card, None);
        var signed = Card with { Status = "⏳ AWAITING SIGN-OFF (1/4)" };

        await channel.EditAsync(posted, signed, None);

        Assert.EndsWith(
            "── #ops · message L1 (edited) ──\n" +
            "🗄️ D-3 · add_index → db:5432/app   ⏳ AWAITING SIGN-OFF (1/4)\n" +
            "requested by: ana · hash: 3f2a9c1\n" +
            "react ✅ to sign your role\n",
            writer.ToString());
        Assert.Equal(signed, channel.Message(posted));
        Assert.Equal(2, channel.Printed.Count);
    }

    [Fact]
    public async Task A_thread_reply_is_indented_under_the_message_it_answers_and_takes_the_next_id()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);
        var posted = await channel.PostAsync("ops", Card, None);
        var progress = new ChatMessage("▶️ phase 2/4 · execute migration", "started") { Footer = "next: statement 1 of 3" };

        var reply = await channel.ReplyInThreadAsync(posted, progress, None);

        Assert.Equal(new MessageReference("ops", "L2"), reply);
        Assert.Equal(
            "  ↳ in thread of L1\n" +
            "  ▶️ phase 2/4 · execute migration   started\n" +
            "  next: statement 1 of 3\n",
            channel.Printed[^1] + "\n");
        Assert.EndsWith(channel.Printed[^1] + "\n", writer.ToString());
        Assert.Equal(progress, channel.Message(reply));
    }

    [Fact]
    public async Task An_edited_thread_reply_is_printed_again_indented_under_its_thread()
    {
        var channel = new LocalChannel(new StringWriter());
        var posted = await channel.PostAsync("ops", Card, None);
        var reply = await channel.ReplyInThreadAsync(posted, new ChatMessage("statement 1 of 3"), None);

        await channel.EditAsync(reply, new ChatMessage("statement 2 of 3"), None);

        Assert.Equal("  ↳ in thread of L1 (edited)\n  statement 2 of 3", channel.Printed[^1]);
    }

    [Fact]
    public async Task The_bots_reaction_prints_its_character_and_the_message_id()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);
        await channel.PostAsync("ops", new ChatMessage("one"), None);
        var prompt = await channel.PostAsync("ops", new ChatMessage("roll back?"), None);

        await channel.AddReactionAsync(prompt, ReactionEmoji.Rollback, None);
        await channel.AddReactionAsync(prompt, ReactionEmoji.SignOff, None);

        Assert.EndsWith("⏪ bot reacted on L2\n✅ bot reacted on L2\n", writer.ToString());
    }

    [Fact]
    public async Task The_bot_cannot_react_with_other_and_prints_nothing()
    {
        var channel = new LocalChannel(new StringWriter());
        var posted = await channel.PostAsync("ops", Card, None);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => channel.AddReactionAsync(posted, ReactionEmoji.Other, None));
        Assert.Single(channel.Printed);
    }

    [Fact]
    public async Task A_message_the_channel_never_posted_cannot_be_edited_answered_or_reacted_on()
    {
        var channel = new LocalChannel(new StringWriter());
        await channel.PostAsync("ops", Card, None);
        var unknown = new MessageReference("ops", "L9");
        var otherChannel = new MessageReference("dev", "L1");

        await Assert.ThrowsAsync<ArgumentException>(() => channel.EditAsync(unknown, Card, None));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.ReplyInThreadAsync(otherChannel, Card, None));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.AddReactionAsync(unknown, ReactionEmoji.SignOff, None));
        Assert.Null(channel.Message(unknown));
        Assert.Single(channel.Printed);
    }

    [Fact]
    public async Task Ids_increase_across_posts_and_replies_in_every_channel()
    {
        var channel = new LocalChannel(new StringWriter());

        var first = await channel.PostAsync("ops", Card, None);
        var reply = await channel.ReplyInThreadAsync(first, Card, None);
        var second = await channel.PostAsync("dev", Card, None);

        Assert.Equal(["L1", "L2", "L3"], [first.MessageId, reply.MessageId, second.MessageId]);
        Assert.Equal("dev", second.ChannelId);
    }

    [Fact]
    public async Task A_cancelled_call_prints_nothing()
    {
        var channel = new LocalChannel(new StringWriter());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.PostAsync("ops", Card, new CancellationToken(canceled: true)));
        Assert.Empty(channel.Printed);
    }

    [Fact]
    public async Task Concurrent_posts_are_each_printed_whole_under_their_own_header()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);
        var messages = Enumerable.Range(1, 200)
            .Select(i => new ChatMessage($"message {i}", $"status {i}") { Fields = [new("n", $"{i}")], Footer = $"end of {i}" })
            .ToArray();

        var posted = await Task.WhenAll(messages.Select(m => Task.Run(() => channel.PostAsync("ops", m, None))));

        var lines = writer.ToString().Split('\n');
        Assert.Equal(200 * 4 + 1, lines.Length);   // four lines a message, and the empty string after the last \n
        Assert.Equal("", lines[^1]);
        var byId = posted.Zip(messages).ToDictionary(p => p.First.MessageId, p => p.Second);
        Assert.Equal(200, byId.Count);
        for (var at = 0; at < 200 * 4; at += 4)
        {
            var id = lines[at]["── #ops · message ".Length..^" ──".Length];
            Assert.Equal($"── #ops · message {id} ──", lines[at]);
            Assert.Equal(PlainTextRenderer.Render(byId[id]).Split('\n'), lines[(at + 1)..(at + 4)]);
        }
    }
}

public class LocalInputTests
{
    private static readonly MessageReference CardOfD3 = new("local", "L7");

    private static LocalInput Input(string user = "ana") =>
        new(id => id == new DeploymentId(3) ? CardOfD3 : null, user, session: "s1");

    private static ChatEvent EventOf(LocalLine line) => Assert.IsType<LocalLine.Event>(line).Value;

    [Fact]
    public void A_migrate_line_is_a_command_from_the_current_user_with_the_whole_line_as_text()
    {
        var input = Input();

        var first = EventOf(input.Read("/migrate start add_index --target prod"));
        var second = EventOf(input.Read("  /migrate status D-3  "));

        Assert.Equal(new CommandReceived("/migrate start add_index --target prod", "ana", "local", "local-s1-1"), first);
        Assert.Equal(new CommandReceived("/migrate status D-3", "ana", "local", "local-s1-2"), second);
        Assert.IsType<CommandReceived>(EventOf(input.Read("/migrate")));
    }

    [Fact]
    public void As_switches_the_user_the_next_migrate_line_comes_from()
    {
        var input = Input();

        Assert.Equal(new LocalLine.Notice("you are now bob"), input.Read("as bob"));
        Assert.Equal("bob", input.CurrentUser);
        Assert.Equal("bob", EventOf(input.Read("/migrate approve D-3")).UserId);
        Assert.IsType<LocalLine.Error>(input.Read("as"));
        Assert.IsType<LocalLine.Error>(input.Read("as bob carol"));
        Assert.Equal("bob", input.CurrentUser);
    }

    [Theory]
    [InlineData("✅", ReactionEmoji.SignOff)]
    [InlineData(":white_check_mark:", ReactionEmoji.SignOff)]
    [InlineData("⏪", ReactionEmoji.Rollback)]
    [InlineData(":rewind:", ReactionEmoji.Rollback)]
    [InlineData(":thumbsup:", ReactionEmoji.Other)]
    [InlineData("🎉", ReactionEmoji.Other)]
    public void React_and_unreact_name_the_deployments_card_the_emoji_and_its_raw_text(string typed, ReactionEmoji emoji)
    {
        var input = Input();

        Assert.Equal(new ReactionAdded("carol", CardOfD3, emoji, typed, "local-s1-1"), EventOf(input.Read($"react carol {typed} D-3")));
        Assert.Equal(new ReactionRemoved("carol", CardOfD3, emoji, typed, "local-s1-2"), EventOf(input.Read($"unreact carol {typed} d-3")));
    }

    [Fact]
    public void Two_sessions_never_share_an_event_id()
    {
        var first = EventOf(new LocalInput(_ => null, "ana").Read("/migrate help"));
        var second = EventOf(new LocalInput(_ => null, "ana").Read("/migrate help"));

        Assert.NotEqual(first.EventId, second.EventId);
        Assert.StartsWith("local-", first.EventId);
    }

    [Fact]
    public void A_reaction_is_from_the_user_it_names_not_the_current_user()
    {
        var reaction = EventOf(Input("ana").Read("react dave ✅ D-3"));

        Assert.Equal("dave", reaction.UserId);
        Assert.Equal("local", reaction.ChannelId);
    }

    [Fact]
    public void A_reaction_on_a_deployment_with_no_card_names_it()
    {
        var error = Assert.IsType<LocalLine.Error>(Input().Read("react ana ✅ D-9"));

        Assert.Equal("no deployment D-9: /migrate list shows them", error.Text);
    }

    [Theory]
    [InlineData("react ana ✅", "usage: react <user-id> <emoji> <D-n>, e.g. react ana ✅ D-3")]
    [InlineData("unreact ana ✅ D-3 now", "usage: unreact <user-id> <emoji> <D-n>, e.g. unreact ana ✅ D-3")]
    [InlineData("react ana ✅ 3", "'3' is neither a deployment id nor a message: write D-n (its card, e.g. D-3) or L-number (a message, e.g. L7)")]
    public void A_malformed_reaction_says_what_to_type(string line, string expected)
    {
        Assert.Equal(new LocalLine.Error(expected), Input().Read(line));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t")]
    public void Blank_lines_are_ignored_and_take_no_event_id(string line)
    {
        var input = Input();

        Assert.Same(LocalLine.Blank.Instance, input.Read(line));
        Assert.Equal("local-s1-1", Assert.IsType<CommandReceived>(EventOf(input.Read("/migrate list"))).EventId);
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("/migrating list")]
    [InlineData("migrate list")]
    public void Anything_else_is_an_error_listing_the_accepted_lines(string line)
    {
        var error = Assert.IsType<LocalLine.Error>(Input().Read(line));

        Assert.Equal($"not understood: {line}\n{LocalInput.Usage}", error.Text);
        Assert.Contains("as <user-id>", error.Text);
        Assert.Contains("react <user-id> <emoji> <D-n>", error.Text);
        Assert.Contains("unreact <user-id> <emoji> <D-n|L-n>", error.Text);
        Assert.Contains("react <user-id> <emoji> <L-n>", error.Text);
    }

    [Fact]
    public void A_reaction_on_a_message_number_is_on_that_message_of_the_channel()
    {
        var line = Assert.IsType<LocalLine.Event>(Input().Read("react olga ⏪ l7"));

        var reaction = Assert.IsType<ReactionAdded>(line.Value);
        Assert.Equal(new MessageReference(LocalInput.DefaultChannelId, "L7"), reaction.Message);
        Assert.Equal(ReactionEmoji.Rollback, reaction.Emoji);
        Assert.Equal("olga", reaction.UserId);
        Assert.Equal("⏪ olga reacted on L7", line.Echo);
        Assert.IsType<ReactionRemoved>(Assert.IsType<LocalLine.Event>(Input().Read("unreact olga ⏪ L7")).Value);
    }

    [Fact]
    public void A_reply_is_a_thread_reply_on_the_card_with_the_text_as_typed()
    {
        var line = Assert.IsType<LocalLine.Event>(Input().Read("reply dan D-3   went well:  no waits"));

        var reply = Assert.IsType<ThreadReplied>(line.Value);
        Assert.Equal("dan", reply.UserId);
        Assert.Equal("went well:  no waits", reply.Text);
        Assert.Equal(LocalInput.DefaultChannelId, reply.Parent.ChannelId);
        Assert.Equal("  ↳ dan in the thread of D-3: went well:  no waits", line.Echo);
        Assert.Equal(new LocalLine.Error("usage: reply <user-id> <D-n> <text>, e.g. reply ana D-3 the index build took longer than planned"), Input().Read("reply dan D-3"));
    }

    [Fact]
    public void A_long_garbage_line_is_echoed_shortened()
    {
        var error = Assert.IsType<LocalLine.Error>(Input().Read(new string('x', 100)));

        Assert.StartsWith($"not understood: {new string('x', 39)}…\n", error.Text);
    }

    [Fact]
    public void The_channel_id_is_configurable_and_the_user_defaults_to_the_os_user()
    {
        var input = new LocalInput(_ => CardOfD3, channelId: "console");

        Assert.Equal("console", input.ChannelId);
        Assert.False(string.IsNullOrWhiteSpace(input.CurrentUser));
        Assert.Equal("console", EventOf(input.Read("/migrate list")).ChannelId);
        Assert.Equal(LocalInput.DefaultChannelId, new LocalInput(_ => null).ChannelId);
    }
}

public class LocalLoopTests
{
    [Fact]
    public async Task Events_reach_the_conductor_in_order_errors_and_notices_are_printed_and_the_loop_returns_at_end_of_input()
    {
        var writer = new StringWriter();
        var channel = new LocalChannel(writer);
        var card = await channel.PostAsync("local", new ChatMessage("🗄️ D-1 · add_index"), CancellationToken.None);
        var input = new LocalInput(id => id.Number == 1 ? card : null, "ana", session: "s1");
        var received = new List<ChatEvent>();
        var loop = new LocalLoop(channel, input, async (e, ct) =>
        {
            // A slow conductor: the next line must still wait for this one.
            await Task.Delay(5, ct);
            received.Add(e);
        });

        await loop.RunAsync(new StringReader("""
            /migrate start add_index

            as bob
            react bob ✅ D-1
            react bob ✅ D-2
            hello
            /migrate status
            """), CancellationToken.None);

        Assert.Equal(
            [
                new CommandReceived("/migrate start add_index", "ana", "local", "local-s1-1"),
                new ReactionAdded("bob", card, ReactionEmoji.SignOff, "✅", "local-s1-2"),
                new CommandReceived("/migrate status", "bob", "local", "local-s1-3"),
            ],
            received);
        Assert.Equal(
            ["you are now bob", "✅ bob reacted on D-1", "no deployment D-2: /migrate list shows them", $"not understood: hello\n{LocalInput.Usage}"],
            channel.Printed.Skip(1));
        Assert.EndsWith($"you are now bob\n✅ bob reacted on D-1\nno deployment D-2: /migrate list shows them\nnot understood: hello\n{LocalInput.Usage}\n", writer.ToString());
    }

    [Fact]
    public async Task Cancellation_stops_a_loop_waiting_for_a_line()
    {
        var channel = new LocalChannel(new StringWriter());
        var loop = new LocalLoop(channel, new LocalInput(_ => null, "ana"), (_, _) => Task.CompletedTask);
        using var cancellation = new CancellationTokenSource();
        using var never = new BlockingReader();

        var running = loop.RunAsync(never, cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    /// <summary>A reader like the console's: ReadLine blocks until a line comes (here: until disposed) and ignores tokens.</summary>
    private sealed class BlockingReader : TextReader
    {
        private readonly ManualResetEventSlim _released = new();

        public override string? ReadLine()
        {
            _released.Wait();
            return null;
        }

        public override ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken) => ValueTask.FromResult(ReadLine());

        protected override void Dispose(bool disposing)
        {
            _released.Set();
            base.Dispose(disposing);
        }
    }
}
