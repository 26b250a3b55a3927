using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Interactions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Discord.Tests;

public sealed class InteractionEndpointTests : IAsyncLifetime
{
    private readonly InteractionSigner _signer = new();
    private readonly RecordingInbox _inbox = new();
    private readonly HttpClient _http = new();
    private WebApplication _app = null!;
    private Uri _endpoint = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        var options = new DiscordOptions
        {
            BotToken = "t", ApplicationId = "100000000000000002", PublicKey = _signer.PublicKeyHex,
            GuildId = Discord.GuildId, ChannelId = Discord.ChannelId,
        };
        _app.MapDiscordEndpoints(options, _inbox, NullLogger.Instance);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _endpoint = new Uri(address.TrimEnd('/') + DiscordInteractionEndpoints.Path);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        _signer.Dispose();
    }

    private Task<HttpResponseMessage> PostAsync(string body, string? signature = "sign", string? timestamp = "1722700000")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (timestamp is not null)
            request.Headers.Add("X-Signature-Timestamp", timestamp);
        if (signature is not null)
            request.Headers.Add("X-Signature-Ed25519", signature == "sign" ? _signer.Sign(timestamp ?? "", body) : signature);
        return _http.SendAsync(request);
    }

    private static string Command(string subCommand, JsonArray? options = null, string channelId = Discord.ChannelId, string id = "900000000000000001") => new JsonObject
    {
        ["id"] = id, ["application_id"] = "100000000000000002", ["type"] = 2, ["token"] = "interaction-token-" + id,
        ["channel_id"] = channelId, ["guild_id"] = Discord.GuildId, ["version"] = 1,
        ["member"] = new JsonObject { ["user"] = new JsonObject { ["id"] = "300000000000000007", ["username"] = "erin" }, ["roles"] = new JsonArray() },
        ["data"] = new JsonObject
        {
            ["id"] = "1", ["name"] = "migrate", ["type"] = 1,
            ["options"] = new JsonArray(new JsonObject { ["type"] = 1, ["name"] = subCommand, ["options"] = options ?? [] }),
        },
    }.ToJsonString();

    private static JsonObject Option(string name, JsonNode value, int type = 3) => new() { ["name"] = name, ["type"] = type, ["value"] = value };

    [Fact]
    public async Task A_signed_ping_is_answered_pong_as_json()
    {
        var response = await PostAsync("""{"type":1}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["type"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_bad_signature_is_refused()
    {
        var response = await PostAsync("""{"type":1}""", signature: new string('0', 128));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_tampered_body_is_refused()
    {
        var body = Command("start", [Option("migration", "add_index")]);
        var signature = _signer.Sign("1722700000", body);
        var response = await PostAsync(body.Replace("add_index", "drop_table", StringComparison.Ordinal), signature);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_inbox.Events);
    }

    [Fact]
    public async Task A_changed_timestamp_is_refused()
    {
        var body = """{"type":1}""";
        var response = await PostAsync(body, _signer.Sign("1722700000", body), timestamp: "1722700001");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public async Task Missing_headers_are_refused(bool withSignature, bool withTimestamp)
    {
        var response = await PostAsync("""{"type":1}""", withSignature ? new string('0', 128) : null, withTimestamp ? "1722700000" : null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_command_is_handed_to_the_inbox_and_deferred_ephemerally()
    {
        var response = await PostAsync(Command("start", [Option("migration", "add_index"), Option("target", "staging")]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(5, answer["type"]!.GetValue<int>());
        Assert.Equal(64, answer["data"]!["flags"]!.GetValue<int>());

        var command = Assert.IsType<CommandReceived>(Assert.Single(_inbox.Events));
        Assert.Equal("/migrate start add_index --target staging", command.Text);
        Assert.Equal("300000000000000007", command.UserId);
        Assert.Equal(Discord.ChannelId, command.ChannelId);
        Assert.Equal("900000000000000001", command.EventId);
        Assert.Equal("interaction-token-900000000000000001", command.ReplyHandle);
        Assert.IsType<MigrateCommand.Start>(MigrateGrammar.Parse(command.Text).Command);
    }

    [Fact]
    public async Task Every_sub_command_is_rebuilt_as_a_line_the_grammar_reads()
    {
        var cases = new (string Sub, JsonArray Options, string Expected)[]
        {
            ("help", [], "/migrate help"),
            ("list", [], "/migrate list"),
            ("plan", [Option("migration", "add_index")], "/migrate plan add_index"),
            ("start", [Option("migration", "add_index")], "/migrate start add_index"),
            ("status", [Option("deployment", "D-3")], "/migrate status D-3"),
            ("approve", [], "/migrate approve"),
            ("revoke", [Option("deployment", "D-3")], "/migrate revoke D-3"),
            ("pause", [Option("deployment", "D-3")], "/migrate pause D-3"),
            ("resume", [], "/migrate resume"),
            ("rollback", [Option("confirm", true, 5), Option("deployment", "D-3")], "/migrate rollback D-3 --confirm"),
            ("rollback", [Option("confirm", false, 5)], "/migrate rollback"),
            ("abort", [Option("deployment", "D-12")], "/migrate abort D-12"),
            ("history", [Option("deployment", "D-1")], "/migrate history D-1"),
        };
        var id = 900000000000000100;
        foreach (var (sub, options, expected) in cases)
        {
            var response = await PostAsync(Command(sub, options, id: (++id).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var command = Assert.IsType<CommandReceived>(_inbox.Events[^1]);
            Assert.Equal(expected, command.Text);
            Assert.True(MigrateGrammar.Parse(command.Text).Succeeded, command.Text);
        }
        // Every sub-command the grammar knows was covered.
        Assert.Equal(MigrateGrammar.SubCommands.Select(s => s.Name).ToHashSet(), cases.Select(c => c.Sub).ToHashSet());
    }

    [Fact]
    public async Task A_command_from_another_channel_is_answered_at_once_and_not_handed_on()
    {
        var response = await PostAsync(Command("list", channelId: "200000000000000999"));
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(4, answer["type"]!.GetValue<int>());
        Assert.Equal(64, answer["data"]!["flags"]!.GetValue<int>());
        Assert.Contains($"<#{Discord.ChannelId}>", answer["data"]!["content"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(_inbox.Events);
    }

    [Fact]
    public async Task When_the_inbox_cannot_take_a_command_Discord_is_answered_500()
    {
        _inbox.Failure = new InvalidOperationException("database down");
        var response = await PostAsync(Command("list"));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
    }

    [Fact]
    public async Task A_redelivered_command_is_not_handed_on_twice()
    {
        await PostAsync(Command("list"));
        var again = await PostAsync(Command("list"));
        Assert.Equal(4, JsonNode.Parse(await again.Content.ReadAsStringAsync())!["type"]!.GetValue<int>());
        Assert.Single(_inbox.Events);
    }
}
