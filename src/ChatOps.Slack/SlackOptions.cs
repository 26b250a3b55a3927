using Microsoft.Extensions.Options;

namespace ChatOps.Slack;

/// <summary>
/// <c>Slack</c>: how the bot reaches Slack. Slack is enabled when <see cref="BotToken"/> is set. Inbound traffic comes over
/// Socket Mode when <see cref="AppToken"/> is set, otherwise over the signed HTTP endpoints (<see cref="SigningSecret"/>).
/// Tokens and the signing secret come from the environment (<c>Slack__BotToken</c> …) and never appear in
/// <see cref="ToString"/> or a log.
/// </summary>
public sealed class SlackOptions
{
    public const string Section = "Slack";

    /// <summary>The Web API's address when none is configured.</summary>
    public const string DefaultApiBaseUrl = "https://slack.com/api/";

    /// <summary>The app's signing secret (Basic Information → App Credentials): verifies the HTTP endpoints' requests.</summary>
    public string? SigningSecret { get; set; }

    /// <summary>The bot token, <c>xoxb-…</c> (OAuth &amp; Permissions): every Web API call.</summary>
    public string? BotToken { get; set; }

    /// <summary>The app-level token, <c>xapp-…</c> with <c>connections:write</c>: when set, inbound traffic comes over Socket Mode.</summary>
    public string? AppToken { get; set; }

    /// <summary>The Web API's base address; tests point it at a fake server.</summary>
    public string ApiBaseUrl { get; set; } = DefaultApiBaseUrl;

    /// <summary>The channel's id (<c>C…</c>) where cards and alerts go and where <c>/migrate</c> is taken.</summary>
    public string? ChannelId { get; set; }

    /// <summary>Slack is used at all: the bot token is set.</summary>
    public bool IsEnabled => !string.IsNullOrWhiteSpace(BotToken);

    /// <summary>Inbound traffic comes over Socket Mode rather than the HTTP endpoints.</summary>
    public bool UsesSocketMode => !string.IsNullOrWhiteSpace(AppToken);

    /// <summary><see cref="ApiBaseUrl"/> as a URI ending in <c>/</c>, so method names resolve under it.</summary>
    public Uri ApiBaseUri => new(ApiBaseUrl.EndsWith('/') ? ApiBaseUrl : ApiBaseUrl + "/", UriKind.Absolute);

    /// <summary>Which values are set, never the values themselves.</summary>
    public override string ToString() =>
        $"Slack {{ BotToken = {Shown(BotToken)}, AppToken = {Shown(AppToken)}, SigningSecret = {Shown(SigningSecret)}, " +
        $"ApiBaseUrl = {ApiBaseUrl}, ChannelId = {ChannelId ?? "(not set)"} }}";

    private static string Shown(string? secret) => string.IsNullOrWhiteSpace(secret) ? "(not set)" : "(set)";
}

/// <summary>
/// Every problem of the <c>Slack</c> section at once, each saying how to fix it. Nothing is required while the bot token is
/// unset (Slack is off), unless other Slack values are set: a partial configuration is named, not silently ignored.
/// </summary>
public sealed class SlackOptionsValidator : IValidateOptions<SlackOptions>
{
    private const string S = SlackOptions.Section;

    public ValidateOptionsResult Validate(string? name, SlackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!options.IsEnabled)
        {
            var set = new[] { ("SigningSecret", options.SigningSecret), ("AppToken", options.AppToken), ("ChannelId", options.ChannelId) }
                .Where(v => !string.IsNullOrWhiteSpace(v.Item2)).Select(v => $"{S}:{v.Item1}").ToList();
            if (set.Count > 0)
                failures.Add($"{S}:BotToken is missing while {string.Join(", ", set)} {(set.Count == 1 ? "is" : "are")} set: set {S}:BotToken " +
                             $"(env Slack__BotToken, the xoxb-… token under OAuth & Permissions) to enable Slack, or remove the other Slack values.");
            return Result(failures);
        }

        if (!options.BotToken!.Trim().StartsWith("xoxb-", StringComparison.Ordinal))
            failures.Add($"{S}:BotToken does not start with xoxb-: use the Bot User OAuth Token (OAuth & Permissions), not a user or app token.");
        if (string.IsNullOrWhiteSpace(options.ChannelId))
            failures.Add($"{S}:ChannelId is missing: set it (env Slack__ChannelId) to the id of the channel for cards and alerts (C…, from the channel's details).");
        else if (options.ChannelId.Trim().StartsWith('#') || options.ChannelId.Trim().Any(char.IsWhiteSpace))
            failures.Add($"{S}:ChannelId is '{options.ChannelId}': set the channel's id (C…, from the channel's details), not its name.");
        if (options.UsesSocketMode)
        {
            if (!options.AppToken!.Trim().StartsWith("xapp-", StringComparison.Ordinal))
                failures.Add($"{S}:AppToken does not start with xapp-: use an app-level token with connections:write (Basic Information → App-Level Tokens), or leave it unset to use the HTTP endpoints.");
        }
        else if (string.IsNullOrWhiteSpace(options.SigningSecret))
        {
            failures.Add($"{S}:SigningSecret is missing: set it (env Slack__SigningSecret, Basic Information → App Credentials) to verify the HTTP endpoints, " +
                         $"or set {S}:AppToken (xapp-…) to use Socket Mode instead.");
        }
        if (!Uri.TryCreate(options.ApiBaseUrl, UriKind.Absolute, out var api) || (api.Scheme != Uri.UriSchemeHttps && api.Scheme != Uri.UriSchemeHttp))
            failures.Add($"{S}:ApiBaseUrl is '{options.ApiBaseUrl}', not an absolute http(s) URL: leave it unset for {SlackOptions.DefaultApiBaseUrl}.");
        return Result(failures);
    }

    private static ValidateOptionsResult Result(List<string> failures) =>
        failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
}
