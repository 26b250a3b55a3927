using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatOps.Testing;
using ChatOps.Testing.FakeDiscord;
using NSec.Cryptography;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Issue 16 §2 on Discord, through <c>serve</c> against the fake Discord: a ✅ removed while the Gateway was down revokes that
/// sign-off once the new session's reconciliation lists the card's reactions; a sign-off given by <c>/migrate approve</c> has no
/// reaction and stands; a ✅ added meanwhile signs.
/// </summary>
public class DiscordReconciliationTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private const string Guild = "200000000000000001";
    private const string Channel = "200000000000000002";

    // The card as people read it: the fake keeps Discord's JSON, which escapes ✅, — and the like.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Fact]
    public async Task A_reaction_removed_while_disconnected_is_revoked_at_reconciliation_and_an_approve_command_sign_off_stands()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        using var folder = new MigrationFolder().With("discord_reconcile", "CREATE TABLE discord_reconciled (id int);\n");
        var bot = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", Guild),
            ("Discord__ChannelId", Channel), ("Discord__ApiBaseUrl", discord.ApiBaseUrl),
            ("Discord__PublicKey", Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey))),
            ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "302"),
            ("ChatOps__Roles__SeniorBackendEngineer__1", "300"), ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "304")));
        using var http = new HttpClient();
        Task<string> Logs() => Task.FromResult(serve.Output + serve.Error);
        await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(bot, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "serve to be ready, the Gateway held", TimeSpan.FromMinutes(1), Logs);

        async Task InteractAsync(string body)
        {
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(bot, "discord/interactions")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Signature-Timestamp", timestamp);
            request.Headers.Add("X-Signature-Ed25519", Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body))));
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        }
        Task<string> SignersAsync() => state.ScalarAsync<string>(
            "SELECT coalesce(string_agg(user_id || '=' || coalesce(given_by, '?'), ' ' ORDER BY user_id), '') FROM chatops_state.sign_offs WHERE deployment = 1");
        Task SignersAreAsync(string expected, string what) => Poll.UntilAsync(async () => await SignersAsync() == expected, what, TimeSpan.FromMinutes(1),
            async () => $"sign-offs: {await SignersAsync()}\n{await Logs()}");

        await InteractAsync(DiscordServeTests.Command("900000000000000001", "300", "start",
            new JsonObject { ["name"] = "migration", ["type"] = 3, ["value"] = "discord_reconcile" }));
        await Poll.UntilAsync(() => Task.FromResult(discord.MessagesIn(Channel).Any(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal))),
            "the card to be posted", TimeSpan.FromMinutes(1), Logs);
        var card = discord.MessagesIn(Channel).First(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal));
        string Card() => card.Payload.ToJsonString(Readable);
        await Poll.UntilAsync(() => Task.FromResult(discord.ReactionsOn(card.Id, "✅").Contains(discord.BotUserId)), "the bot's own ✅ on the card",
            TimeSpan.FromMinutes(1), Logs);

        // Two sign by ✅ while the Gateway listens; 303, who cannot react, types /migrate approve.
        foreach (var user in new[] { "301", "302" })
        {
            discord.AddReaction(card.Id, "✅", user);
            await discord.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd(Guild, Channel, card.Id, user, "✅"));
        }
        await SignersAreAsync("301=Reaction 302=Reaction", "two sign-offs by reaction");
        await InteractAsync(DiscordServeTests.Command("900000000000000002", "303", "approve", new JsonObject { ["name"] = "deployment", ["type"] = 3, ["value"] = "D-1" }));
        await SignersAreAsync("301=Reaction 302=Reaction 303=Command", "the sign-off by approve");
        await Poll.UntilAsync(() => Task.FromResult(Card().Contains("DevOps/SRE Lead — 303", StringComparison.Ordinal) && Card().Contains("(3/4)", StringComparison.Ordinal)),
            "the card to show three sign-offs", TimeSpan.FromMinutes(1), () => Task.FromResult(Card()));
        var versions = card.Versions.Count;

        // While the bot hears nothing (no dispatch), 302 takes their ✅ away and 304 adds one; then the session is lost.
        discord.RemoveReaction(card.Id, "✅", "302");
        discord.AddReaction(card.Id, "✅", "304");
        await discord.Gateway.CloseAsync(4009);

        // The new session lists the card's ✅ (the bot, 301, 304): 302's sign-off is revoked, 303's stands, 304 signs.
        await SignersAreAsync("301=Reaction 303=Command 304=Reaction", "the sign-offs reconciled with the listing");
        await Poll.UntilAsync(() => Task.FromResult(Card().Contains("Senior Backend Engineer — nobody yet", StringComparison.Ordinal)
                                                    && Card().Contains("Product Owner — 304", StringComparison.Ordinal)),
            "the card to show 302's sign-off gone and 304's given", TimeSpan.FromMinutes(1), () => Task.FromResult(Card()));
        Assert.Contains("DevOps/SRE Lead — 303", Card(), StringComparison.Ordinal);
        Assert.Contains("AWAITING SIGN-OFF (3/4)", Card(), StringComparison.Ordinal);
        Assert.Equal(versions + 1, card.Versions.Count);   // the card edited once for the whole listing
        Assert.Equal(2, discord.Gateway.Handshakes.Count(h => h.Kind == "IDENTIFY"));

        Assert.Equal("revoke: the ✅ was found removed at reconciliation (after a disconnect): 302 revoked their sign-off", await state.ScalarAsync<string>(
            "SELECT what FROM chatops_state.audit_events WHERE deployment = 1 AND who = '302' AND counted ORDER BY seq DESC LIMIT 1"));
        Assert.Equal(0L, await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND who = '303' AND what LIKE 'revoke:%'"));
        Assert.Equal(0L, await state.ScalarAsync<long>(
            "SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND who = $1", discord.BotUserId));
        Assert.Equal("AwaitingApproval", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));

        serve.Signal("TERM");
        var result = await serve.WaitAsync();
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}{result.Error}");
    }

    // The Discord role whose holders hold Product Owner: configured as role:<id>, as the issue writes it.
    private const string ProductOwners = "500000000000000077";

    /// <summary><c>serve</c> with <c>ChatOps:Roles:ProductOwner</c> = <c>role:&lt;id&gt;</c>, D-1 started by 300 and its card posted.</summary>
    private sealed class RoleHolderServe(ChatOpsProcess.Running serve, Key key, HttpClient http, FakeMessage card) : IDisposable
    {
        public ChatOpsProcess.Running Serve => serve;
        public FakeMessage Card => card;
        public string CardText => card.Payload.ToJsonString(Readable);

        public static async Task<RoleHolderServe> StartAsync(FakeDiscordServer discord, MigrationFolder folder, PostgresDatabase target, EmptyPostgresDatabase state)
        {
            var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
            var bot = new Uri($"http://127.0.0.1:{Ports.Free()}/");
            var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], folder.Environment(
                ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
                ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", Guild),
                ("Discord__ChannelId", Channel), ("Discord__ApiBaseUrl", discord.ApiBaseUrl),
                ("Discord__PublicKey", Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey))),
                ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "300"),
                ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "role:" + ProductOwners)));
            var http = new HttpClient();
            Task<string> Logs() => Task.FromResult(serve.Output + serve.Error);
            await Poll.UntilAsync(async () =>
            {
                try { return (await http.GetAsync(new Uri(bot, "readyz"))).IsSuccessStatusCode && discord.Gateway.HasReadyClient; }
                catch (HttpRequestException) { return false; }
            }, "serve to be ready, the Gateway held", TimeSpan.FromMinutes(1), Logs);

            var body = DiscordServeTests.Command("900000000000000001", "300", "start",
                new JsonObject { ["name"] = "migration", ["type"] = 3, ["value"] = "discord_role" });
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(bot, "discord/interactions")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Signature-Timestamp", timestamp);
            request.Headers.Add("X-Signature-Ed25519", Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body))));
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
            await Poll.UntilAsync(() => Task.FromResult(discord.MessagesIn(Channel).Any(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal))),
                "the card to be posted", TimeSpan.FromMinutes(1), Logs);
            var card = discord.MessagesIn(Channel).First(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal));
            await Poll.UntilAsync(() => Task.FromResult(discord.ReactionsOn(card.Id, "✅").Contains(discord.BotUserId)), "the bot's own ✅ on the card",
                TimeSpan.FromMinutes(1), Logs);
            return new RoleHolderServe(serve, key, http, card);
        }

        public async Task StopAsync()
        {
            serve.Signal("TERM");
            var result = await serve.WaitAsync();
            Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}{result.Error}");
        }

        public void Dispose()
        {
            http.Dispose();
            key.Dispose();
            serve.Dispose();
        }
    }

    private Task ProductOwnerSignedAsync(RoleHolderServe bot, string user) => Poll.UntilAsync(async () =>
            await state.ScalarAsync<string>("SELECT coalesce(string_agg(user_id || '=' || coalesce(given_by, '?'), ' '), '') FROM chatops_state.sign_offs WHERE deployment = 1")
                == $"{user}=Reaction" && bot.CardText.Contains($"Product Owner — {user}", StringComparison.Ordinal),
        $"{user}'s sign-off to count for Product Owner", TimeSpan.FromMinutes(1), () => Task.FromResult($"{bot.CardText}\n{bot.Serve.Error}"));

    [Fact]
    public async Task A_role_holder_named_role_colon_id_signs_by_a_reaction_over_the_gateway_with_the_role_in_member_roles()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var folder = new MigrationFolder().With("discord_role", "CREATE TABLE discord_role_gateway (id int);\n");
        using var bot = await RoleHolderServe.StartAsync(discord, folder, target, state);

        // 305 is named nowhere but has the Discord role; the reaction's member.roles says so (the guild's member list does not know 305).
        discord.AddReaction(bot.Card.Id, "✅", "305");
        await discord.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd(Guild, Channel, bot.Card.Id, "305", "✅", ProductOwners));

        await ProductOwnerSignedAsync(bot, "305");
        Assert.Contains("(1/4)", bot.CardText, StringComparison.Ordinal);
        Assert.DoesNotContain(discord.Requests, r => r.Path.Contains("/members/305", StringComparison.Ordinal));   // the Gateway said it
        Assert.Equal("sign-off: 305 signed (Product Owner)", await state.ScalarAsync<string>(
            "SELECT what FROM chatops_state.audit_events WHERE deployment = 1 AND who = '305' ORDER BY seq DESC LIMIT 1"));
        await bot.StopAsync();
    }

    [Fact]
    public async Task A_role_holder_named_role_colon_id_whose_reaction_is_found_only_at_reconciliation_signs_through_the_member_s_roles()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var folder = new MigrationFolder().With("discord_role", "CREATE TABLE discord_role_reconciled (id int);\n");
        using var bot = await RoleHolderServe.StartAsync(discord, folder, target, state);

        // 306 has the Discord role (as the guild's member list says) and reacts while the bot hears nothing; then the session is lost.
        discord.SetMemberRoles("306", "400000000000000001", ProductOwners);
        discord.AddReaction(bot.Card.Id, "✅", "306");
        await discord.Gateway.CloseAsync(4009);

        await ProductOwnerSignedAsync(bot, "306");
        Assert.Contains(discord.Requests, r => r.Method == "GET" && r.Path == $"guilds/{Guild}/members/306");
        Assert.Equal(2, discord.Gateway.Handshakes.Count(h => h.Kind == "IDENTIFY"));
        Assert.Equal("sign-off: 306 signed (Product Owner)", await state.ScalarAsync<string>(
            "SELECT what FROM chatops_state.audit_events WHERE deployment = 1 AND who = '306' ORDER BY seq DESC LIMIT 1"));
        await bot.StopAsync();
    }
}
