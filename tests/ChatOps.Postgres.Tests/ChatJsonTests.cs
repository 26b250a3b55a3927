using ChatOps.Core.Conversation;
using ChatOps.Postgres.State;

namespace ChatOps.Postgres.Tests;

/// <summary>The inbox keeps events as JSON: each comes back as it went in.</summary>
public class ChatJsonTests
{
    [Fact]
    public void A_listing_of_a_card_s_sign_off_reactions_comes_back_with_every_user_in_order()
    {
        var listing = new SignOffReactionsListed(new MessageReference("C1", "M9"), ["301", "303", "302"], "reconcile:s1:M9:✅");

        var json = ChatJson.Write(listing);
        var back = Assert.IsType<SignOffReactionsListed>(ChatJson.ReadEvent(json));

        Assert.Contains("\"kind\":\"sign-off-reactions-listed\"", json, StringComparison.Ordinal);
        Assert.Equal((listing.Card, listing.EventId, listing.ChannelId, ""), (back.Card, back.EventId, back.ChannelId, back.UserId));
        Assert.Equal(["301", "303", "302"], back.Users);
    }

    [Fact]
    public void An_empty_listing_comes_back_empty_not_missing()
    {
        var back = Assert.IsType<SignOffReactionsListed>(ChatJson.ReadEvent(ChatJson.Write(new SignOffReactionsListed(new MessageReference("C1", "M9"), [], "e1"))));
        Assert.Empty(back.Users);
    }

    [Fact]
    public void When_a_listing_was_read_comes_back_to_the_tick_with_its_offset()
    {
        var listedAt = new DateTimeOffset(2026, 11, 28, 2, 3, 4, TimeSpan.FromHours(1)).AddTicks(1234567);
        var back = Assert.IsType<SignOffReactionsListed>(ChatJson.ReadEvent(ChatJson.Write(
            new SignOffReactionsListed(new MessageReference("C1", "M9"), ["301"], "e1", listedAt))));
        Assert.Equal(listedAt, back.ListedAt);
        Assert.Equal(listedAt.Offset, back.ListedAt!.Value.Offset);
    }

    [Fact]
    public void A_listing_stored_before_the_bot_recorded_when_it_was_read_still_reads_with_no_time()
    {
        const string stored = """{"kind":"sign-off-reactions-listed","channel":"C1","message":"M9","users":["301"],"eventId":"reconcile:s1:M9:✅"}""";
        var back = Assert.IsType<SignOffReactionsListed>(ChatJson.ReadEvent(stored));
        Assert.Equal(["301"], back.Users);
        Assert.Null(back.ListedAt);
    }
}
