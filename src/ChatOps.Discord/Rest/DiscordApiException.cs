namespace ChatOps.Discord.Rest;

/// <summary>
/// Discord refused a request (4xx other than 429): the HTTP status, Discord's JSON error <see cref="Code"/>
/// (10008 Unknown Message, 50013 Missing Permissions, 160004 thread already created…) and its message.
/// </summary>
public sealed class DiscordApiException(int status, int? code, string discordMessage, string route)
    : Exception($"Discord answered {status}{(code is { } c ? $" (code {c})" : "")} to {route}: {discordMessage}")
{
    /// <summary>The HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>Discord's JSON error code, when the body had one.</summary>
    public int? Code { get; } = code;

    /// <summary>Discord's message, as sent.</summary>
    public string DiscordMessage { get; } = discordMessage;

    /// <summary>The route template (<c>POST channels/{channel}/messages</c>): never the token, never a webhook token.</summary>
    public string Route { get; } = route;
}

/// <summary>Discord's error codes the adapter reacts to.</summary>
public static class DiscordErrorCodes
{
    public const int UnknownChannel = 10003;
    public const int UnknownMember = 10007;
    public const int UnknownMessage = 10008;
    public const int UnknownWebhook = 10015;
    public const int UnknownInteraction = 10062;
    public const int InvalidWebhookToken = 50027;
    public const int ThreadAlreadyCreated = 160004;
}
