using ChatOps.Core.Conversation;

namespace ChatOps.Core.Tests;

public class ReactionEmojiTests
{
    [Theory]
    [InlineData("✅", ReactionEmoji.SignOff)]
    [InlineData("white_check_mark", ReactionEmoji.SignOff)]
    [InlineData(":white_check_mark:", ReactionEmoji.SignOff)]
    [InlineData(" ✅ ", ReactionEmoji.SignOff)]
    [InlineData("⏪", ReactionEmoji.Rollback)]
    [InlineData("⏪\uFE0F", ReactionEmoji.Rollback)]
    [InlineData(":rewind:", ReactionEmoji.Rollback)]
    [InlineData("rewind", ReactionEmoji.Rollback)]
    [InlineData("✔️", ReactionEmoji.Other)]
    [InlineData(":heavy_check_mark:", ReactionEmoji.Other)]
    [InlineData(":thumbsup:", ReactionEmoji.Other)]
    [InlineData("White_Check_Mark", ReactionEmoji.Other)]
    [InlineData("", ReactionEmoji.Other)]
    public void Emoji_names_and_characters_are_read_as_sign_off_rollback_or_other(string given, ReactionEmoji expected)
    {
        Assert.Equal(expected, ReactionEmojis.Read(given));
    }

    [Fact]
    public void The_neutral_emoji_print_as_their_characters()
    {
        Assert.Equal("✅", ReactionEmoji.SignOff.Character());
        Assert.Equal("⏪", ReactionEmoji.Rollback.Character());
        Assert.Null(ReactionEmoji.Other.Character());
    }

    [Fact]
    public void A_reaction_event_is_in_its_message_s_channel()
    {
        var reaction = new ReactionAdded("ana", new MessageReference("C042", "1732755060.000200"), ReactionEmoji.SignOff, "white_check_mark", "Ev042");

        Assert.Equal("C042", reaction.ChannelId);
        Assert.Equal("ana", reaction.UserId);
    }
}
