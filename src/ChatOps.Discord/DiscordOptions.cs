using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace ChatOps.Discord;

/// <summary>
/// <c>Discord</c>: the application, the bot's token and where the bot works. Discord is enabled when
/// <see cref="BotToken"/> is set; then every other required key must be set too. The token comes from the environment
/// (<c>Discord__BotToken</c>) or user secrets, and never appears in <see cref="ToString"/>.
/// </summary>
public sealed class DiscordOptions
{
    public const string Section = "Discord";

    /// <summary>Discord's REST base when <see cref="ApiBaseUrl"/> is not set.</summary>
    public const string DefaultApiBaseUrl = "https://discord.com/api/v10/";

    /// <summary>The bot's token (Developer Portal → Bot → Reset Token). Secret.</summary>
    public string? BotToken { get; set; }

    /// <summary>The application's id (General Information → Application ID): the interaction webhooks and command registration use it.</summary>
    public string? ApplicationId { get; set; }

    /// <summary>The application's Ed25519 public key, hex (General Information → Public Key): interactions are verified against it.</summary>
    public string? PublicKey { get; set; }

    /// <summary>The server (guild) the bot works in: commands are registered there, member roles read from there.</summary>
    public string? GuildId { get; set; }

    /// <summary>The channel where <c>/migrate</c> is used and cards are posted.</summary>
    public string? ChannelId { get; set; }

    /// <summary>REST base, <see cref="DefaultApiBaseUrl"/> unless a test points it at a fake.</summary>
    public string ApiBaseUrl { get; set; } = DefaultApiBaseUrl;

    /// <summary>
    /// Keep replies in a card's thread (the lessons learned the final report asks for) in the deployment's audit trail. Off by default:
    /// it adds GUILD_MESSAGES and MESSAGE_CONTENT to the Gateway's intents, and MESSAGE_CONTENT is privileged — switch on "Message
    /// Content Intent" (Developer Portal → Bot) first, or Discord closes the Gateway with 4014.
    /// </summary>
    public bool ThreadReplies { get; set; }

    /// <summary>The Gateway's URL; when unset it is asked of <c>GET /gateway/bot</c>.</summary>
    public string? GatewayUrl { get; set; }

    /// <summary>True when the bot token is set.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(BotToken);

    /// <summary><see cref="ApiBaseUrl"/> as a URI ending in '/', so relative routes append to it.</summary>
    public Uri ApiBase => new(ApiBaseUrl.EndsWith('/') ? ApiBaseUrl : ApiBaseUrl + "/", UriKind.Absolute);

    // The token is deliberately left out: options objects end up in logs and exception messages.
    public override string ToString() =>
        $"Discord(enabled: {Enabled}, application: {ApplicationId ?? "-"}, guild: {GuildId ?? "-"}, channel: {ChannelId ?? "-"}, api: {ApiBaseUrl})";
}

/// <summary>Checks <see cref="DiscordOptions"/> and reports every problem at once, each with how to fix it.</summary>
public sealed partial class DiscordOptionsValidator : IValidateOptions<DiscordOptions>
{
    [GeneratedRegex("^[0-9]{15,21}$")]
    private static partial Regex Snowflake();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Hex32Bytes();

    /// <summary>
    /// For <c>register-discord-commands</c>: only what registering the slash command needs is required — <see cref="DiscordOptions.BotToken"/>,
    /// <see cref="DiscordOptions.ApplicationId"/> and <see cref="DiscordOptions.GuildId"/>; the channel and public key (which serving needs)
    /// are checked only when set. False (serving): Discord may be off, but once on, every key is required.
    /// </summary>
    public bool ForCommandRegistration { get; init; }

    public ValidateOptionsResult Validate(string? name, DiscordOptions options)
    {
        var failures = new List<string>();
        var ids = new (string Key, string? Value, string Where, bool Required)[]
        {
            ("ApplicationId", options.ApplicationId, "Developer Portal → your application → General Information → Application ID", true),
            ("GuildId", options.GuildId, "right-click the server → Copy Server ID (Developer Mode on)", true),
            ("ChannelId", options.ChannelId, "right-click the channel → Copy Channel ID (Developer Mode on)", !ForCommandRegistration),
        };

        if (ForCommandRegistration && !options.Enabled)
            failures.Add($"{DiscordOptions.Section}:BotToken is missing (register-discord-commands needs it): set it (environment variable Discord__BotToken; " +
                         "Developer Portal → Bot → Reset Token).");
        else if (!options.Enabled)
        {
            // Disabled is fine; half a configuration is a mistake worth stopping for.
            var set = ids.Where(i => !string.IsNullOrWhiteSpace(i.Value)).Select(i => i.Key).ToList();
            if (!string.IsNullOrWhiteSpace(options.PublicKey))
                set.Add("PublicKey");
            if (set.Count > 0)
                failures.Add($"{DiscordOptions.Section}:BotToken is not set, but {string.Join(", ", set.Select(k => $"{DiscordOptions.Section}:{k}"))} " +
                             $"{(set.Count == 1 ? "is" : "are")}: set {DiscordOptions.Section}:BotToken (environment variable Discord__BotToken; Developer Portal → Bot → Reset Token) " +
                             "to enable Discord, or remove the other Discord keys to leave it off.");
            return Result(failures);
        }

        var why = ForCommandRegistration ? "register-discord-commands needs it" : "Discord is enabled because BotToken is set";
        foreach (var (key, value, where, required) in ids)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                if (required)
                    failures.Add($"{DiscordOptions.Section}:{key} is missing ({why}): set it (environment variable Discord__{key}; {where}).");
            }
            else if (!Snowflake().IsMatch(value))
                failures.Add($"{DiscordOptions.Section}:{key} is '{value}', not a Discord id: copy the numeric id ({where}).");
        }

        if (string.IsNullOrWhiteSpace(options.PublicKey))
        {
            if (!ForCommandRegistration)
                failures.Add($"{DiscordOptions.Section}:PublicKey is missing ({why}): set it to the application's public key, 64 hex digits (environment variable Discord__PublicKey; General Information → Public Key).");
        }
        else if (!Hex32Bytes().IsMatch(options.PublicKey))
            failures.Add($"{DiscordOptions.Section}:PublicKey is not 64 hex digits: copy it from General Information → Public Key.");

        if (!Uri.TryCreate(options.ApiBaseUrl, UriKind.Absolute, out var api) || (api.Scheme != Uri.UriSchemeHttps && api.Scheme != Uri.UriSchemeHttp))
            failures.Add($"{DiscordOptions.Section}:ApiBaseUrl is '{options.ApiBaseUrl}', not an http(s) URL: remove it to use {DiscordOptions.DefaultApiBaseUrl}.");

        if (!string.IsNullOrWhiteSpace(options.GatewayUrl) &&
            (!Uri.TryCreate(options.GatewayUrl, UriKind.Absolute, out var gateway) || (gateway.Scheme != "wss" && gateway.Scheme != "ws")))
            failures.Add($"{DiscordOptions.Section}:GatewayUrl is '{options.GatewayUrl}', not a ws(s) URL: remove it to ask Discord (GET /gateway/bot).");

        return Result(failures);
    }

    private static ValidateOptionsResult Result(List<string> failures) =>
        failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
}
