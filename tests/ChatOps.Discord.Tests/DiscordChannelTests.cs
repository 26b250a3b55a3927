using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Discord.Interactions;
using ChatOps.Discord.Rest;
using ChatOps.Testing.FakeDiscord;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Discord.Tests;

public sealed class DiscordChannelTests : IAsyncLifetime
{
    private FakeDiscordServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeDiscordServer.StartAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    private static ChatMessage Card() => new("🗄️ D-17 · add_index → db:5432/app", "⏳ AWAITING SIGN-OFF (2/4)")
    {
        Fields = [new MessageField("requested by", "erin", Inline: true), new MessageField("sha256", "3f9c…a21b", Inline: true)],
        Checklists =
        [
            new ChecklistSection("Pre-deployment checks",
            [
                new ChecklistLine(ChecklistState.Done, "replication lag 0.4 s (< 10 s)"),
                new ChecklistLine(ChecklistState.Open, "backup verified", SignOffRole.DatabaseAdministrator),
            ]),
        ],
        Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.User("300000000000000009")],
        Footer = "Runs when all four have signed",
    };

    [Fact]
    public async Task The_bot_user_comes_from_users_me()
    {
        var channel = await Discord.ChannelAsync(_fake);
        Assert.Equal(_fake.BotUserId, channel.BotUserId);
    }

    [Fact]
    public async Task A_refused_token_at_start_up_is_a_clear_error()
    {
        var options = Discord.Options(_fake);
        options.BotToken = "wrong";
        var rest = Discord.Rest(options);
        var channel = new DiscordChannel(rest, options, Discord.Holders(), new MemberRoles(rest, options, TimeProvider.System), TimeProvider.System, NullLogger<DiscordChannel>.Instance);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => channel.InitializeAsync(CancellationToken.None));
        Assert.Contains("Discord:BotToken", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_card_is_an_embed_whose_mentions_ping_exactly_the_named_users_and_roles()
    {
        var holders = Discord.Holders((SignOffRole.DatabaseAdministrator, ["300000000000000001", "group:400000000000000001"]));
        var channel = await Discord.ChannelAsync(_fake, holders);
        var posted = await channel.PostAsync(Discord.ChannelId, Card(), CancellationToken.None);

        var payload = _fake.Message(posted.MessageId)!.Payload;
        var embed = payload["embeds"]![0]!;
        Assert.Equal("🗄️ D-17 · add_index → db:5432/app", embed["title"]!.GetValue<string>());
        Assert.StartsWith("⏳ AWAITING SIGN-OFF (2/4)", embed["description"]!.GetValue<string>(), StringComparison.Ordinal);
        var fields = embed["fields"]!.AsArray();
        Assert.Equal(["requested by", "sha256", "Pre-deployment checks"], fields.Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal("✅ replication lag 0.4 s (< 10 s)\n☐ backup verified (Database Administrator)", fields[2]!["value"]!.GetValue<string>());
        Assert.Equal("Runs when all four have signed", embed["footer"]!["text"]!.GetValue<string>());

        var content = payload["content"]!.GetValue<string>();
        Assert.Contains("<@300000000000000001>", content, StringComparison.Ordinal);
        Assert.Contains("<@&400000000000000001>", content, StringComparison.Ordinal);
        Assert.Contains("<@300000000000000009>", content, StringComparison.Ordinal);
        var allowed = payload["allowed_mentions"]!;
        Assert.Empty(allowed["parse"]!.AsArray());
        Assert.Equal(["300000000000000001", "300000000000000009"], allowed["users"]!.AsArray().Select(u => u!.GetValue<string>()));
        Assert.Equal(["400000000000000001"], allowed["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task Embed_limits_are_respected_by_truncating()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var huge = new ChatMessage(new string('T', 400), new string('S', 5000))
        {
            Fields = [.. Enumerable.Range(0, 40).Select(i => new MessageField($"field {i}", new string('v', 2000)))],
            Footer = new string('f', 3000),
        };
        var posted = await channel.PostAsync(Discord.ChannelId, huge, CancellationToken.None);
        var embed = _fake.Message(posted.MessageId)!.Payload["embeds"]![0]!;
        Assert.True(embed["title"]!.GetValue<string>().Length <= 256);
        Assert.True(embed["footer"]!["text"]!.GetValue<string>().Length <= 2048);
        var fields = embed["fields"]!.AsArray();
        Assert.InRange(fields.Count, 1, 25);
        Assert.All(fields, f => Assert.True(f!["value"]!.GetValue<string>().Length <= 1024));
        var total = embed["title"]!.GetValue<string>().Length + embed["footer"]!["text"]!.GetValue<string>().Length
                    + (embed["description"]?.GetValue<string>().Length ?? 0)
                    + fields.Sum(f => f!["name"]!.GetValue<string>().Length + f["value"]!.GetValue<string>().Length);
        Assert.True(total <= 6000, $"embed has {total} characters");
    }

    [Fact]
    public async Task A_plain_text_answer_over_many_lines_keeps_every_line_its_first_as_the_title()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var lines = Enumerable.Range(1, 12).Select(i => $"/migrate sub-command-{i:00}    what sub-command {i} does, in a few words").ToList();
        var posted = await channel.PostAsync(Discord.ChannelId, new ChatMessage(string.Join('\n', lines)), CancellationToken.None);

        var embed = _fake.Message(posted.MessageId)!.Payload["embeds"]![0]!;
        Assert.Equal(lines[0], embed["title"]!.GetValue<string>());
        Assert.Equal(string.Join('\n', lines.Skip(1)), embed["description"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_edit_replaces_the_card_in_place()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var posted = await channel.PostAsync(Discord.ChannelId, Card(), CancellationToken.None);
        await channel.EditAsync(posted, Card() with { Status = "🟢 APPROVED FOR DEPLOYMENT" }, CancellationToken.None);
        var message = _fake.Message(posted.MessageId)!;
        Assert.Equal(2, message.Versions.Count);
        Assert.StartsWith("🟢 APPROVED", message.Payload["embeds"]![0]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Single(_fake.MessagesIn(Discord.ChannelId));
    }

    [Fact]
    public async Task The_thread_is_started_once_on_the_card_and_reused()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var card = await channel.PostAsync(Discord.ChannelId, Card(), CancellationToken.None);
        var first = await channel.ReplyInThreadAsync(card, new ChatMessage("📊 D-17 status"), CancellationToken.None);
        var second = await channel.ReplyInThreadAsync(card, new ChatMessage("📊 D-17 status again"), CancellationToken.None);

        Assert.Equal(1, _fake.ThreadStartsOn(card.MessageId));
        Assert.Equal(card.MessageId, first.ChannelId);
        Assert.Equal(card.MessageId, second.ChannelId);
        Assert.Equal(2, _fake.MessagesIn(card.MessageId).Count);
        var start = _fake.Requests.Single(r => r.Path.EndsWith("/threads", StringComparison.Ordinal));
        Assert.Equal("🗄️ D-17 · add_index → db:5432/app", start.Json!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_thread_started_before_a_restart_is_used_as_it_is()
    {
        var card = _fake.AddMessage(Discord.ChannelId, "card");
        var before = await Discord.ChannelAsync(_fake);
        await before.ReplyInThreadAsync(new MessageReference(Discord.ChannelId, card.Id), new ChatMessage("one"), CancellationToken.None);
        var after = await Discord.ChannelAsync(_fake);
        await after.ReplyInThreadAsync(new MessageReference(Discord.ChannelId, card.Id), new ChatMessage("two"), CancellationToken.None);
        Assert.Equal(2, _fake.ThreadStartsOn(card.Id));
        Assert.Equal(2, _fake.MessagesIn(card.Id).Count);
    }

    [Fact]
    public async Task Reactions_are_added_with_the_emoji_url_encoded()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var card = await channel.PostAsync(Discord.ChannelId, Card(), CancellationToken.None);
        await channel.AddReactionAsync(card, ReactionEmoji.SignOff, CancellationToken.None);
        await channel.AddReactionAsync(card, ReactionEmoji.Rollback, CancellationToken.None);
        var puts = _fake.Requests.Where(r => r.Method == "PUT").Select(r => r.Path).ToList();
        Assert.Equal([$"channels/{Discord.ChannelId}/messages/{card.MessageId}/reactions/%E2%9C%85/@me",
                      $"channels/{Discord.ChannelId}/messages/{card.MessageId}/reactions/%E2%8F%AA/@me"], puts);
        Assert.Equal([_fake.BotUserId], _fake.ReactionsOn(card.MessageId, "✅"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => channel.AddReactionAsync(card, ReactionEmoji.Other, CancellationToken.None));
    }

    [Fact]
    public async Task The_callers_answer_edits_the_deferred_reply_then_follows_up_ephemerally()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var caller = new Caller(Discord.ChannelId, "300000000000000007", "interaction-token");
        await channel.ReplyToUserAsync(caller, new ChatMessage("D-17 started"), CancellationToken.None);
        await channel.ReplyToUserAsync(caller, new ChatMessage("and one more thing"), CancellationToken.None);

        var webhook = _fake.Requests.Where(r => r.Path.StartsWith("webhooks/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, webhook.Count);
        Assert.Equal(("PATCH", $"webhooks/{_fake.ApplicationId}/interaction-token/messages/@original"), (webhook[0].Method, webhook[0].Path));
        Assert.Equal(("POST", $"webhooks/{_fake.ApplicationId}/interaction-token"), (webhook[1].Method, webhook[1].Path));
        Assert.Equal(64, webhook[1].Json!["flags"]!.GetValue<int>());
        Assert.Empty(_fake.MessagesIn(Discord.ChannelId));
    }

    [Fact]
    public async Task Without_an_interaction_the_callers_answer_is_a_channel_message_naming_them()
    {
        var channel = await Discord.ChannelAsync(_fake);
        await channel.ReplyToUserAsync(new Caller(Discord.ChannelId, "300000000000000007"), new ChatMessage("hello"), CancellationToken.None);
        var message = Assert.Single(_fake.MessagesIn(Discord.ChannelId));
        Assert.StartsWith("<@300000000000000007>", message.Payload["content"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["300000000000000007"], message.Payload["allowed_mentions"]!["users"]!.AsArray().Select(u => u!.GetValue<string>()));
    }

    [Fact]
    public async Task An_image_goes_as_a_multipart_attachment()
    {
        var channel = await Discord.ChannelAsync(_fake);
        var chart = new ChatMessage("📊 D-17 status") { Image = new MessageImage(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, "lock-wait.png", "lock wait over 15 minutes") };
        var posted = await channel.PostAsync(Discord.ChannelId, chart, CancellationToken.None);
        var request = _fake.Requests.Single(r => r.Method == "POST" && r.Path.EndsWith("/messages", StringComparison.Ordinal));
        Assert.StartsWith("multipart/form-data", request.ContentType, StringComparison.Ordinal);
        Assert.Equal(["files[0]:lock-wait.png"], request.FileNames);
        var payload = _fake.Message(posted.MessageId)!.Payload;
        Assert.Equal("attachment://lock-wait.png", payload["embeds"]![0]!["image"]!["url"]!.GetValue<string>());
        Assert.Equal("lock-wait.png", payload["attachments"]![0]!["filename"]!.GetValue<string>());
    }

    [Fact]
    public async Task Groups_are_the_members_roles()
    {
        _fake.SetMemberRoles("300000000000000007", "400000000000000001", "400000000000000002");
        var channel = await Discord.ChannelAsync(_fake);
        Assert.Equal(["400000000000000001", "400000000000000002"], (await channel.GroupsOfAsync("300000000000000007", CancellationToken.None)).Order());
        Assert.Empty(await channel.GroupsOfAsync("300000000000000099", CancellationToken.None));
        // Cached: asked once however often the core asks.
        await channel.GroupsOfAsync("300000000000000007", CancellationToken.None);
        Assert.Single(_fake.Requests, r => r.Path == $"guilds/{Discord.GuildId}/members/300000000000000007");
    }

    [Fact]
    public async Task Registration_overwrites_the_guild_commands_with_migrate_idempotently()
    {
        var options = Discord.Options(_fake);
        var registration = new DiscordCommandRegistration(Discord.Rest(options), options, NullLogger<DiscordCommandRegistration>.Instance);
        var first = await registration.RegisterAsync(CancellationToken.None);
        var second = await registration.RegisterAsync(CancellationToken.None);

        var command = Assert.Single(first);
        Assert.Equal("migrate", command.Name);
        Assert.Equal(MigrateGrammar.SubCommands.Select(s => s.Name), command.SubCommands);
        Assert.Equal(first, second, (a, b) => a.Id == b.Id && a.Name == b.Name && a.SubCommands.SequenceEqual(b.SubCommands));

        var puts = _fake.Requests.Where(r => r.Method == "PUT").ToList();
        Assert.Equal(2, puts.Count);
        Assert.All(puts, p => Assert.Equal($"applications/{_fake.ApplicationId}/guilds/{Discord.GuildId}/commands", p.Path));
        Assert.Equal(puts[0].Body, puts[1].Body);
        var start = _fake.RegisteredCommands![0]!["options"]!.AsArray().Single(o => o!["name"]!.GetValue<string>() == "start")!;
        Assert.Equal(1, start["type"]!.GetValue<int>());
        var migration = start["options"]![0]!;
        Assert.Equal(("migration", 3, true), (migration["name"]!.GetValue<string>(), migration["type"]!.GetValue<int>(), migration["required"]!.GetValue<bool>()));
        Assert.All(_fake.RegisteredCommands[0]!["options"]!.AsArray(), o => Assert.InRange(o!["description"]!.GetValue<string>().Length, 1, 100));
    }
}
