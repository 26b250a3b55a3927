using ChatOps.Bot.Conversation;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Discord;
using ChatOps.Discord.Gateway;
using ChatOps.Discord.Interactions;
using ChatOps.Discord.Rest;
using ChatOps.Slack;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Hosting;

/// <summary>
/// The chat platforms one replica speaks on: their outbound channels (built and checked before the bot starts: a refused token
/// stops start-up), then — once the bot's inbox exists — their inbound endpoints on the host, and the long-lived connections
/// (Slack Socket Mode, the Discord Gateway) that only the replica holding <see cref="Hosting.PlatformConnections"/> runs.
/// </summary>
public sealed class ChatPlatforms
{
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _logging;
    private readonly HttpClient _http;
    private SlackApiClient? _slackApi;
    private DiscordRestClient? _discordRest;
    private MemberRoles? _discordRoles;

    private ChatPlatforms(IServiceProvider services, TimeProvider time, HttpClient http)
    {
        _services = services;
        _time = time;
        _logging = services.GetRequiredService<ILoggerFactory>();
        _http = http;
    }

    /// <summary>The outbound channel of each enabled platform, by name.</summary>
    public Dictionary<string, IChatChannel> Channels { get; } = [];

    /// <summary>The console channel, when <c>Local</c> is enabled (serve reads its standard input).</summary>
    public LocalChannel? Local { get; private set; }

    /// <summary>The connections only one replica may hold, by platform (empty when none is configured).</summary>
    public Dictionary<string, PlatformConnection> Connections { get; } = [];

    /// <summary>Builds the channels of <paramref name="platforms"/> and checks each platform's token (Slack <c>auth.test</c>, Discord <c>/users/@me</c>).</summary>
    /// <param name="localFirstId">Where the console's message ids go on from (see <see cref="LocalChannel"/>).</param>
    public static async Task<ChatPlatforms> CreateAsync(IServiceProvider services, IReadOnlyList<string> platforms, RoleHolders roles, TimeProvider time,
        HttpClient http, int localFirstId, CancellationToken cancellationToken)
    {
        var built = new ChatPlatforms(services, time, http);
        foreach (var platform in platforms)
        {
            switch (platform)
            {
                case "Local":
                    built.Local = new LocalChannel(Console.Out, localFirstId) { Holders = roles };
                    built.Channels[platform] = built.Local;
                    break;
                case "Slack":
                    var slack = services.GetRequiredService<IOptions<SlackOptions>>().Value;
                    built._slackApi = new SlackApiClient(http, slack.ApiBaseUri, slack.BotToken!, time, built._logging.CreateLogger<SlackApiClient>());
                    var slackChannel = new SlackChannel(built._slackApi, roles, time, built._logging.CreateLogger<SlackChannel>());
                    await slackChannel.InitializeAsync(cancellationToken);
                    built.Channels[platform] = slackChannel;
                    break;
                case "Discord":
                    var discord = services.GetRequiredService<IOptions<DiscordOptions>>().Value;
                    built._discordRest = new DiscordRestClient(http, discord, time, built._logging.CreateLogger<DiscordRestClient>());
                    built._discordRoles = new MemberRoles(built._discordRest, discord, time);
                    var discordChannel = new DiscordChannel(built._discordRest, discord, roles, built._discordRoles, time, built._logging.CreateLogger<DiscordChannel>());
                    await discordChannel.InitializeAsync(cancellationToken);
                    built.Channels[platform] = discordChannel;
                    break;
            }
        }
        return built;
    }

    /// <summary>Maps each platform's inbound endpoints onto the host, handing events to the bot's inbox; readies its long-lived connection.</summary>
    public void Connect(WebApplication app, ChatOpsBot bot)
    {
        if (_slackApi is not null)
        {
            var slack = _services.GetRequiredService<IOptions<SlackOptions>>().Value;
            var inbound = new SlackInbound(bot.Inbox.For("Slack"), slack.ChannelId!, _logging.CreateLogger<SlackInbound>());
            if (slack.UsesSocketMode)
            {
                var appApi = new SlackApiClient(_http, slack.ApiBaseUri, slack.AppToken!, _time, _logging.CreateLogger<SlackApiClient>());
                var socket = new SlackSocketModeClient(appApi, inbound, _time, _logging.CreateLogger<SlackSocketModeClient>());
                Connections["Slack"] = new PlatformConnection("Slack Socket Mode", socket.RunAsync,
                    () => socket.State.IsReady ? null : $"Slack Socket Mode is {socket.State.Status.ToString().ToLowerInvariant()}{(socket.State.Why is { } why ? $": {why}" : "")}");
            }
            else
                app.MapSlackEndpoints(new SlackEndpointsContext(new SlackRequestVerifier(slack.SigningSecret!, _time), inbound, _logging.CreateLogger("ChatOps.Slack")));
        }
        if (_discordRest is not null)
        {
            var discord = _services.GetRequiredService<IOptions<DiscordOptions>>().Value;
            var inbox = bot.Inbox.For("Discord");
            app.MapDiscordEndpoints(discord, inbox, _logging.CreateLogger("ChatOps.Discord"));
            var gateway = new DiscordGateway(_discordRest, discord, inbox, _discordRoles!, _time, _logging.CreateLogger<DiscordGateway>(),
                async cancellationToken =>
                {
                    // The open cards as Discord knows them, so reactions made while the Gateway was down still count.
                    var cards = new List<MessageReference>();
                    foreach (var (_, card) in await bot.Store.ActiveCardsAsync(cancellationToken))
                        if (await bot.Outbox.PlatformReferenceAsync("Discord", card.MessageId, cancellationToken) is { } posted)
                            cards.Add(posted);
                    return cards;
                });
            // A reconnect in progress leaves the replica ready (it answers interactions meanwhile), saying so; a fatal close does not.
            Connections["Discord"] = new PlatformConnection("the Discord Gateway", gateway.RunAsync, () => gateway.Readiness().Problem,
                () => gateway.Readiness().Degraded);
        }
    }
}

/// <summary>A connection only one replica may hold (a second Socket Mode socket or Gateway session would deliver every event twice).</summary>
/// <param name="Name">What it is, for logs and <c>/readyz</c>.</param>
/// <param name="RunAsync">Runs it until cancelled (or until it stops for good).</param>
/// <param name="Problem">Why it is not up now (the replica is not ready); null when it is.</param>
/// <param name="Degraded">Why it is up but impaired (the replica stays ready, and <c>/readyz</c> says it); null when it is not.</param>
public sealed record PlatformConnection(string Name, Func<CancellationToken, Task> RunAsync, Func<string?> Problem, Func<string?>? Degraded = null);
