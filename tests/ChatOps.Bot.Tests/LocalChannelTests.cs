using ChatOps.Bot.Local;
using ChatOps.Core.Conversation;

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
