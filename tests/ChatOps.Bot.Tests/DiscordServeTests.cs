using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ChatOps.Testing;
using ChatOps.Testing.FakeDiscord;
using NSec.Cryptography;

namespace ChatOps.Bot.Tests;

/// <summary>
/// The whole story on Discord: <c>serve</c> as a child process against a fake Discord (REST and Gateway on 127.0.0.1), driven by
/// interactions signed with a test Ed25519 key and reactions pushed over the Gateway — start, four reactions, phases in the card's
/// thread, completion.
/// </summary>
public class DiscordServeTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private const string Guild = "200000000000000001";
    private const string Channel = "200000000000000002";

    internal static string Command(string id, string userId, string subCommand, params JsonObject[] options) => new JsonObject
    {
        ["id"] = id, ["application_id"] = "100000000000000002", ["type"] = 2, ["token"] = "interaction-token-" + id,
        ["channel_id"] = Channel, ["guild_id"] = Guild, ["version"] = 1,
        ["member"] = new JsonObject { ["user"] = new JsonObject { ["id"] = userId, ["username"] = userId }, ["roles"] = new JsonArray() },
        ["data"] = new JsonObject
        {
            ["id"] = "1", ["name"] = "migrate", ["type"] = 1,
            ["options"] = new JsonArray(new JsonObject { ["type"] = 1, ["name"] = subCommand, ["options"] = new JsonArray([.. options]) }),
        },
    }.ToJsonString();

    [Fact]
    public async Task Start_four_reactions_over_the_gateway_phases_in_the_thread_and_the_card_edited_to_completed()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        using var folder = new MigrationFolder().With("discord_add", "CREATE TABLE discord_done (id int);\n", rollback: "DROP TABLE IF EXISTS discord_done;");
        var bot = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", bot.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", Guild),
            ("Discord__ChannelId", Channel), ("Discord__ApiBaseUrl", discord.ApiBaseUrl),
            ("Discord__PublicKey", Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey))),
            ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "302"),
            ("ChatOps__Roles__SeniorBackendEngineer__1", "300"), ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "304"), ("ChatOps__PostDeployment__Extended", "00:00:02")));
        using var http = new HttpClient();
        await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(bot, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "serve to be ready, the Gateway held", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output + serve.Error));

        async Task<HttpResponseMessage> InteractAsync(string body, bool sign = true)
        {
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(bot, "discord/interactions")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Signature-Timestamp", timestamp);
            request.Headers.Add("X-Signature-Ed25519", sign
                ? Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body)))
                : new string('0', 128));
            return await http.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await InteractAsync("""{"type":1}""", sign: false)).StatusCode);
        var started = await InteractAsync(Command("900000000000000001", "300", "start", new JsonObject { ["name"] = "migration", ["type"] = 3, ["value"] = "discord_add" }));
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        Assert.Equal(5, JsonNode.Parse(await started.Content.ReadAsStringAsync())!["type"]!.GetValue<int>());   // deferred, answered later

        await Poll.UntilAsync(() => Task.FromResult(discord.MessagesIn(Channel).Any(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal))),
            "the card to be posted", TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Output + serve.Error));
        var card = discord.MessagesIn(Channel).First(m => m.Payload.ToJsonString().Contains("D-1", StringComparison.Ordinal));

        foreach (var user in new[] { "301", "302", "303", "304" })
            await discord.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd(Guild, Channel, card.Id, user, "✅"));

        // The thread started on the card has the card's id; the verdict arrives there.
        await Poll.UntilAsync(() => Task.FromResult(discord.MessagesIn(card.Id).Any(m => m.Payload.ToJsonString().Contains("VERDICT: SUCCESS", StringComparison.Ordinal))),
            "the verdict in the card's thread", TimeSpan.FromMinutes(3), () => Task.FromResult(serve.Output + serve.Error));
        await Poll.UntilAsync(() => Task.FromResult(discord.Message(card.Id)!.Payload.ToJsonString().Contains("COMPLETED", StringComparison.Ordinal)),
            "the card to show COMPLETED", TimeSpan.FromMinutes(1));

        Assert.Equal(1, discord.ThreadStartsOn(card.Id));
        Assert.Contains(discord.Requests, r => r.Method == "PATCH" && r.Path.Contains("interaction-token-900000000000000001/messages/@original", StringComparison.Ordinal));
        Assert.All(discord.Requests.Where(r => !r.Path.Contains("webhooks", StringComparison.Ordinal)), r => Assert.Equal($"Bot {discord.BotToken}", r.Authorization));
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'discord_done'"));

        serve.Signal("TERM");
        var result = await serve.WaitAsync();
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Output}{result.Error}");
        Assert.DoesNotContain(discord.BotToken, result.Output + result.Error);
    }
}

/// <summary>Two replicas of <c>serve</c> on one state database: only one holds the Discord Gateway, and the other takes it over when it stops.</summary>
public class GatewayHolderTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Only_one_replica_holds_the_gateway_and_another_takes_it_over_when_it_stops()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var folder = new MigrationFolder();
        Dictionary<string, string> Environment() => folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", state.ConnectionString),
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", "200000000000000001"),
            ("Discord__ChannelId", "200000000000000002"), ("Discord__ApiBaseUrl", discord.ApiBaseUrl), ("Discord__PublicKey", new string('a', 64)),
            ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "302"),
            ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "304"));
        using var http = new HttpClient();
        async Task ReadyAsync(Uri url, ChatOpsProcess.Running process) => await Poll.UntilAsync(async () =>
        {
            try { return (await http.GetAsync(new Uri(url, "readyz"))).IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "a replica to be ready", TimeSpan.FromMinutes(1), () => Task.FromResult(process.Error));

        var firstUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var first = ChatOpsProcess.Start(["serve", "--urls", firstUrl.AbsoluteUri.TrimEnd('/')], Environment());
        await ReadyAsync(firstUrl, first);
        var secondUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var second = ChatOpsProcess.Start(["serve", "--urls", secondUrl.AbsoluteUri.TrimEnd('/')], Environment());
        await ReadyAsync(secondUrl, second);
        // Long enough for the second replica to have tried the lock more than once (it tries every 2 s).
        await Task.Delay(TimeSpan.FromSeconds(5));
        // One session: a replica that lost a heartbeat ACK under load reconnects with RESUME; a second replica would IDENTIFY.
        Assert.Equal(1, discord.Gateway.Handshakes.Count(h => h.Kind == "IDENTIFY"));
        Assert.Contains("holds the Discord Gateway", first.Error);
        Assert.DoesNotContain("holds the Discord Gateway", second.Error);

        first.Signal("TERM");
        Assert.Equal(0, (await first.WaitAsync()).ExitCode);
        await Poll.UntilAsync(() => Task.FromResult(second.Error.Contains("holds the Discord Gateway", StringComparison.Ordinal) && discord.Gateway.HasReadyClient),
            "the second replica to take the Gateway over", TimeSpan.FromMinutes(1), () => Task.FromResult(second.Error));
        Assert.Equal(2, discord.Gateway.Handshakes.Count(h => h.Kind == "IDENTIFY"));
        second.Signal("TERM");
        Assert.Equal(0, (await second.WaitAsync()).ExitCode);
    }
}

/// <summary>A fatal Gateway close (4004): the Discord side stops, /readyz fails saying why, the interactions endpoint goes on verifying.</summary>
public class GatewayFatalCloseTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Authentication_failed_stops_the_gateway_fails_readiness_with_the_fix_and_interactions_still_verify()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var folder = new MigrationFolder();
        var url = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", url.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", state.ConnectionString),
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", "200000000000000001"),
            ("Discord__ChannelId", "200000000000000002"), ("Discord__ApiBaseUrl", discord.ApiBaseUrl), ("Discord__PublicKey", new string('a', 64)),
            ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "302"),
            ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "304")));
        using var http = new HttpClient();
        async Task<(bool Ready, string Body)> ReadyzAsync()
        {
            try
            {
                using var response = await http.GetAsync(new Uri(url, "readyz"));
                return (response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
                return (false, "");
            }
        }
        await Poll.UntilAsync(async () => (await ReadyzAsync()).Ready && discord.Gateway.HasReadyClient, "serve to be ready with the Gateway up",
            TimeSpan.FromMinutes(1), () => Task.FromResult(serve.Error));

        var connections = discord.Gateway.Connections;
        await discord.Gateway.CloseAsync(4004);

        await Poll.UntilAsync(async () => (await ReadyzAsync()) is { Ready: false, Body: var body } && body.Contains("4004", StringComparison.Ordinal),
            "/readyz to fail naming the fatal close", TimeSpan.FromMinutes(1), async () => $"{(await ReadyzAsync()).Body}\n{serve.Error}");
        Assert.Contains("set a fresh Discord:BotToken", (await ReadyzAsync()).Body);
        // No reconnect after a fatal close …
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(connections, discord.Gateway.Connections);
        // … and the interactions endpoint still answers, verifying: a forged request gets 401.
        using var forged = new StringContent("""{"type":1}""", System.Text.Encoding.UTF8, "application/json");
        forged.Headers.Add("X-Signature-Ed25519", new string('0', 128));
        forged.Headers.Add("X-Signature-Timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.PostAsync(new Uri(url, "discord/interactions"), forged)).StatusCode);
        Assert.DoesNotContain(discord.BotToken, serve.Error + serve.Output);

        serve.Signal("TERM");
        Assert.Equal(0, (await serve.WaitAsync()).ExitCode);
    }
}

/// <summary>
/// Issue 16 §2: while the Gateway reconnects the replica stays ready (degraded, saying so), and the interactions endpoint keeps
/// answering — a valid signed command sent while the Gateway is down is deferred and then answered.
/// </summary>
public class GatewayReconnectTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task While_the_gateway_reconnects_readiness_stays_200_saying_so_and_a_signed_command_is_answered()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await using var discord = await FakeDiscordServer.StartAsync();
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        using var folder = new MigrationFolder();
        var url = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        using var serve = ChatOpsProcess.Start(["serve", "--urls", url.AbsoluteUri.TrimEnd('/')], folder.Environment(
            ("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", state.ConnectionString),
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", "200000000000000001"),
            ("Discord__ChannelId", "200000000000000002"), ("Discord__ApiBaseUrl", discord.ApiBaseUrl),
            ("Discord__PublicKey", Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey))),
            ("ChatOps__Roles__DatabaseAdministrator__0", "301"), ("ChatOps__Roles__SeniorBackendEngineer__0", "302"),
            ("ChatOps__Roles__DevOpsLead__0", "303"), ("ChatOps__Roles__ProductOwner__0", "304")));
        using var http = new HttpClient();
        async Task<(HttpStatusCode Status, string Body)> ReadyzAsync()
        {
            try
            {
                using var response = await http.GetAsync(new Uri(url, "readyz"));
                return (response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException e)
            {
                return (HttpStatusCode.ServiceUnavailable, e.Message);
            }
        }
        async Task<string> Seen() => $"/readyz: {await ReadyzAsync()}; {discord.Gateway.Refused} reconnects refused\n{serve.Error}";
        await Poll.UntilAsync(async () => (await ReadyzAsync()).Status == HttpStatusCode.OK && discord.Gateway.HasReadyClient,
            "serve to be ready with the Gateway up", TimeSpan.FromMinutes(1), Seen);

        // The Gateway goes down: a resumable close, and every attempt to reconnect refused until the test lets it back.
        var handshakes = discord.Gateway.Handshakes.Count;
        discord.Gateway.Refusing = true;
        await discord.Gateway.CloseAsync(4000);
        await Poll.UntilAsync(async () => discord.Gateway.Refused >= 1 && await ReadyzAsync() is (HttpStatusCode.OK, var body)
                                          && body.Contains("reconnecting", StringComparison.Ordinal),
            "/readyz 200 saying the Gateway is reconnecting, after a refused reconnect", TimeSpan.FromMinutes(1), Seen);
        var degraded = JsonNode.Parse((await ReadyzAsync()).Body)!;
        Assert.Equal("ready, degraded", degraded["status"]!.GetValue<string>());
        Assert.Empty(degraded["reasons"]!.AsArray());
        Assert.Contains("the Discord Gateway is reconnecting (resuming its session", degraded["degraded"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        // A valid signed /migrate help meanwhile: deferred (type 5), then answered by editing @original.
        const string id = "900000000000000077";
        var body = DiscordServeTests.Command(id, "301", "help");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, "discord/interactions")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Signature-Timestamp", timestamp);
        request.Headers.Add("X-Signature-Ed25519", Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body))));
        using var deferred = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, deferred.StatusCode);
        Assert.Equal(5, JsonNode.Parse(await deferred.Content.ReadAsStringAsync())!["type"]!.GetValue<int>());
        RecordedRequest? Answer() => discord.Requests.FirstOrDefault(r => r.Method == "PATCH"
            && r.Path.Contains($"interaction-token-{id}/messages/@original", StringComparison.Ordinal));
        await Poll.UntilAsync(() => Task.FromResult(Answer() is not null), "the help to replace the deferred answer", TimeSpan.FromMinutes(1), Seen);
        Assert.Contains("/migrate start", Answer()!.Body, StringComparison.Ordinal);   // the whole help, not its first 256 characters
        // … all while the Gateway was still down.
        Assert.False(discord.Gateway.HasReadyClient);
        Assert.Equal(handshakes, discord.Gateway.Handshakes.Count);
        Assert.Equal(HttpStatusCode.OK, (await ReadyzAsync()).Status);

        // Back: the session resumes, and readiness no longer says anything is degraded.
        discord.Gateway.Refusing = false;
        await Poll.UntilAsync(async () => discord.Gateway.HasReadyClient && await ReadyzAsync() is (HttpStatusCode.OK, var ready)
                                          && JsonNode.Parse(ready)!["status"]!.GetValue<string>() == "ready",
            "the Gateway resumed and /readyz plainly ready", TimeSpan.FromMinutes(1), Seen);
        Assert.Equal("RESUME", discord.Gateway.Handshakes[^1].Kind);

        serve.Signal("TERM");
        Assert.Equal(0, (await serve.WaitAsync()).ExitCode);
    }
}

/// <summary>Platform set-up: a partial configuration stops start-up naming what is missing; the Discord command is registered.</summary>
public class PlatformSetupTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_partial_Slack_configuration_stops_serve_naming_the_missing_keys_and_no_secret()
    {
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], new Dictionary<string, string>
        {
            ["ConnectionStrings__State"] = state.ConnectionString, ["ConnectionStrings__Target"] = state.ConnectionString,
            ["ChatOps__Roles__DatabaseAdministrator__0"] = "U1", ["ChatOps__Roles__SeniorBackendEngineer__0"] = "U2",
            ["ChatOps__Roles__DevOpsLead__0"] = "U3", ["ChatOps__Roles__ProductOwner__0"] = "U4",
            ["Slack__BotToken"] = "xoxb-secret-token-value",
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Slack:ChannelId is missing", result.Error);
        Assert.Contains("Slack:SigningSecret is missing", result.Error);
        Assert.DoesNotContain("xoxb-secret-token-value", result.Output + result.Error);
    }

    [Fact]
    public async Task A_partial_Discord_configuration_stops_serve_naming_the_missing_keys_and_no_secret()
    {
        var result = await ChatOpsProcess.RunAsync(["serve", "--urls", "http://127.0.0.1:0"], new Dictionary<string, string>
        {
            ["ConnectionStrings__State"] = state.ConnectionString, ["ConnectionStrings__Target"] = state.ConnectionString,
            ["ChatOps__Roles__DatabaseAdministrator__0"] = "1", ["ChatOps__Roles__SeniorBackendEngineer__0"] = "2",
            ["ChatOps__Roles__DevOpsLead__0"] = "3", ["ChatOps__Roles__ProductOwner__0"] = "4",
            ["Discord__BotToken"] = "discord-secret-token-value",
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Discord:PublicKey is missing", result.Error);
        Assert.Contains("Discord:ApplicationId is missing", result.Error);
        Assert.Contains("Discord:ChannelId is missing", result.Error);
        Assert.DoesNotContain("discord-secret-token-value", result.Output + result.Error);
    }

    [Fact]
    public async Task Register_discord_commands_puts_migrate_with_its_sub_commands_and_again_changes_nothing()
    {
        await using var discord = await FakeDiscordServer.StartAsync();
        var environment = new Dictionary<string, string>
        {
            ["Discord__BotToken"] = discord.BotToken, ["Discord__ApplicationId"] = discord.ApplicationId, ["Discord__GuildId"] = "200000000000000001",
            ["Discord__ChannelId"] = "200000000000000002", ["Discord__ApiBaseUrl"] = discord.ApiBaseUrl, ["Discord__PublicKey"] = new string('a', 64),
        };

        var first = await ChatOpsProcess.RunAsync(["register-discord-commands"], environment);
        var registered = discord.RegisteredCommands!.ToJsonString();
        var second = await ChatOpsProcess.RunAsync(["register-discord-commands"], environment);

        Assert.True(first.ExitCode == 0, first.Output + first.Error);
        Assert.True(second.ExitCode == 0, second.Output + second.Error);
        Assert.Contains("registered /migrate", first.Output);
        Assert.Contains("start", first.Output);
        Assert.Contains("rollback", first.Output);
        Assert.Equal(registered, discord.RegisteredCommands!.ToJsonString());
        Assert.Equal(2, discord.Requests.Count(r => r.Method == "PUT" && r.Path.Contains("/guilds/200000000000000001/commands", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Register_discord_commands_needs_only_the_token_the_application_and_the_guild_and_names_each_one_missing()
    {
        await using var discord = await FakeDiscordServer.StartAsync();
        // No channel, no public key: serve needs those, registering does not.
        var environment = new Dictionary<string, string>
        {
            ["Discord__BotToken"] = discord.BotToken, ["Discord__ApplicationId"] = discord.ApplicationId, ["Discord__GuildId"] = "200000000000000001",
            ["Discord__ApiBaseUrl"] = discord.ApiBaseUrl,
        };
        var registered = await ChatOpsProcess.RunAsync(["register-discord-commands"], environment);
        Assert.True(registered.ExitCode == 0, registered.Output + registered.Error);
        Assert.Contains("registered /migrate", registered.Output);

        environment.Remove("Discord__GuildId");
        environment.Remove("Discord__BotToken");
        var refused = await ChatOpsProcess.RunAsync(["register-discord-commands"], environment);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("Discord:BotToken is missing (register-discord-commands needs it)", refused.Error);
        Assert.Contains("Discord:GuildId is missing (register-discord-commands needs it)", refused.Error);
        Assert.DoesNotContain("Discord:PublicKey", refused.Error);
        Assert.DoesNotContain("Discord:ChannelId", refused.Error);
        Assert.Single(discord.Requests, r => r.Method == "PUT");
    }
}
