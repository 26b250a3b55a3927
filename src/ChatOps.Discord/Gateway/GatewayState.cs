namespace ChatOps.Discord.Gateway;

/// <summary>Where the Gateway connection stands; the host's readiness check reads it.</summary>
public abstract record GatewayState
{
    private GatewayState()
    {
    }

    /// <summary>Opening a connection and identifying (a new session).</summary>
    public sealed record Connecting : GatewayState;

    /// <summary>Reconnecting to resume the session: events missed meanwhile are replayed.</summary>
    public sealed record Resuming : GatewayState;

    /// <summary>Identified or resumed: reactions arrive.</summary>
    public sealed record Ready(string SessionId) : GatewayState;

    /// <summary>Not running, and not coming back by itself: <paramref name="Why"/> says what to fix.</summary>
    /// <param name="Fatal">True when Discord refused the bot for good (bad token, disallowed intents): readiness fails.</param>
    public sealed record Stopped(string Why, bool Fatal) : GatewayState;
}

/// <summary>The Gateway's waits. Defaults suit Discord; tests shorten them.</summary>
/// <param name="ReconnectBase">The first wait after a failed reconnect; doubled each time (with jitter) up to <paramref name="ReconnectCap"/>.</param>
/// <param name="InvalidSessionWait">Before identifying afresh after INVALID_SESSION (Discord asks for 1–5 s); a random wait up to this, at least a fifth of it.</param>
public sealed record GatewayTiming(TimeSpan ReconnectBase, TimeSpan ReconnectCap, TimeSpan InvalidSessionWait)
{
    /// <summary>1 s doubling to 60 s; up to 5 s after an invalid session; ready while reconnecting for up to 2 minutes.</summary>
    public static GatewayTiming Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5));

    /// <summary>
    /// How long the Gateway may be reconnecting (after it was ready) before readiness fails: a routine reconnect or resume takes
    /// seconds, and meanwhile the replica still answers interactions; minutes without a session mean something is wrong.
    /// Two minutes by default: past the backoff's 60 s cap, so one slow attempt does not fail readiness.
    /// </summary>
    public TimeSpan DownTolerated { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>What the Gateway means for the replica's readiness (<c>/readyz</c>).</summary>
/// <param name="Problem">Why the replica is not ready (a fatal close, reconnecting for too long, not connected yet); null when it is.</param>
/// <param name="Degraded">Ready, but impaired: why (reconnecting or resuming: reactions wait for the session, interactions are answered).</param>
public sealed record GatewayReadiness(string? Problem, string? Degraded);

/// <summary>The Gateway's opcodes and the close codes that decide what happens next.</summary>
internal static class GatewayCodes
{
    public const int Dispatch = 0;
    public const int Heartbeat = 1;
    public const int Identify = 2;
    public const int Resume = 6;
    public const int Reconnect = 7;
    public const int InvalidSession = 9;
    public const int Hello = 10;
    public const int HeartbeatAck = 11;

    /// <summary>GUILDS (1 &lt;&lt; 0) | GUILD_MESSAGE_REACTIONS (1 &lt;&lt; 10): neither is privileged.</summary>
    public const int Intents = (1 << 0) | (1 << 10);

    /// <summary>GUILD_MESSAGES (1 &lt;&lt; 9) | MESSAGE_CONTENT (1 &lt;&lt; 15, privileged): with <c>Discord:ThreadReplies</c>.</summary>
    public const int ThreadReplyIntents = (1 << 9) | (1 << 15);

    /// <summary>Close codes after which reconnecting cannot help: someone has to fix the configuration.</summary>
    public static string? Fatal(int code) => code switch
    {
        4004 => "authentication failed (4004): the bot token is wrong or was reset; set a fresh Discord:BotToken",
        4010 => "invalid shard (4010)",
        4011 => "sharding required (4011): the bot is in too many guilds for one connection",
        4012 => "invalid API version (4012)",
        4013 => "invalid intents (4013)",
        4014 => "disallowed intents (4014): enable them for the bot in the Developer Portal",
        _ => null,
    };

    /// <summary>Close codes after which the session is gone: identify afresh rather than resume.</summary>
    public static bool SessionLost(int code) => code is 4007 or 4009;
}
