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
}
