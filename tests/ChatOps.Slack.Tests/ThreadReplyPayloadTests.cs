using System.Text.Json;
using ChatOps.Core.Conversation;

namespace ChatOps.Slack.Tests;

/// <summary>A person's reply in a thread becomes the core's <see cref="ThreadReplied"/> on the thread's parent; every other message is let by.</summary>
public class ThreadReplyPayloadTests
{
    private static JsonElement Callback(string ev) => JsonDocument.Parse($$"""{"type":"event_callback","event_id":"Ev77","event":{{ev}}}""").RootElement;

    [Fact]
    public void A_reply_in_a_thread_is_a_thread_reply_on_its_parent()
    {
        var e = SlackPayloads.Event(Callback("""{"type":"message","user":"UDAN","channel":"C1","text":"index build took 4 min, plan 10","ts":"1700000000.000009","thread_ts":"1700000000.000001"}"""), out var why);

        Assert.Equal(new ThreadReplied("UDAN", new MessageReference("C1", "1700000000.000001"), "index build took 4 min, plan 10", "Ev77"), e);
        Assert.Equal("thread reply", why);
    }

    [Theory]
    [InlineData("""{"type":"message","user":"UDAN","channel":"C1","text":"hi","ts":"1700000000.000009"}""", "a message outside a thread")]
    [InlineData("""{"type":"message","user":"UDAN","channel":"C1","text":"hi","ts":"1700000000.000001","thread_ts":"1700000000.000001"}""", "a message outside a thread")]
    [InlineData("""{"type":"message","subtype":"message_changed","channel":"C1","ts":"1700000000.000009","thread_ts":"1700000000.000001"}""", "message subtype 'message_changed'")]
    [InlineData("""{"type":"message","bot_id":"B1","user":"UBOT","channel":"C1","text":"📊 status","ts":"1700000000.000009","thread_ts":"1700000000.000001"}""", "message from a bot")]
    public void Other_messages_are_let_by_saying_why(string ev, string expected)
    {
        Assert.Null(SlackPayloads.Event(Callback(ev), out var why));
        Assert.Equal(expected, why);
    }
}
