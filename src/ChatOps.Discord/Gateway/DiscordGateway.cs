using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Gateway;

/// <summary>
/// The Gateway connection that brings reactions: HELLO, a jittered first heartbeat then one every interval with ACK
/// tracking, IDENTIFY (GUILDS | GUILD_MESSAGE_REACTIONS) or RESUME, and the reconnects Discord asks for. Reaction
/// dispatches become <see cref="ReactionAdded"/>/<see cref="ReactionRemoved"/> handed to the <see cref="IChatInbox"/>
/// with the id <c>{session_id}:{s}</c>, so a resumed session's replays are handled once; the sequence advances only
/// after the inbox took an event, so an event it could not take is replayed after a resume. Run
/// <see cref="RunAsync"/> on the one replica holding the Gateway.
/// </summary>
public sealed class DiscordGateway
{
    private enum Next { Resume, Identify, Stop }

    /// <summary>The state with when the Gateway stopped being ready (null while ready, and before it ever was): swapped whole, read whole.</summary>
    private sealed record Standing(GatewayState State, DateTimeOffset? DownSince);

    private readonly DiscordRestClient _rest;
    private readonly DiscordOptions _options;
    private readonly IChatInbox _inbox;
    private readonly MemberRoles _roles;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<CancellationToken, Task<IReadOnlyCollection<MessageReference>>>? _openCards;
    private readonly GatewayTiming _timing;
    private readonly ReactionReconciler _reconciler;

    private string? _gatewayUrl;
    private string? _sessionId;
    private string? _resumeUrl;
    private long? _sequence;
    private volatile Standing _standing = new(new GatewayState.Connecting(), null);
    private string? _stopReason;

    /// <param name="openCards">The cards whose sign-off reactions to reconcile after each READY (a new session has missed
    /// whatever happened while it was down); null to leave reconciliation to the host (<see cref="ReconcileAsync"/>).</param>
    public DiscordGateway(DiscordRestClient rest, DiscordOptions options, IChatInbox inbox, MemberRoles roles, TimeProvider time,
        ILogger<DiscordGateway> logger, Func<CancellationToken, Task<IReadOnlyCollection<MessageReference>>>? openCards = null, GatewayTiming? timing = null)
    {
        _rest = rest;
        _options = options;
        _inbox = inbox;
        _roles = roles;
        _time = time;
        _logger = logger;
        _openCards = openCards;
        _timing = timing ?? GatewayTiming.Default;
        _reconciler = new ReactionReconciler(rest, inbox, time, logger);
    }

    /// <summary>Where the connection stands.</summary>
    public GatewayState State => _standing.State;

    /// <summary>
    /// What the Gateway means for the replica's readiness now. Ready: nothing to say. Reconnecting or resuming after it was ready: ready but
    /// degraded (interactions are answered meanwhile; reactions wait for the session, and reconciliation lists what was missed) — until it
    /// has been down longer than <see cref="GatewayTiming.DownTolerated"/>. Stopped (a fatal close: someone has to fix the configuration),
    /// or not connected yet since start-up: not ready.
    /// </summary>
    public GatewayReadiness Readiness()
    {
        var (state, downSince) = _standing;
        if (state is GatewayState.Ready)
            return new(null, null);
        if (state is GatewayState.Stopped stopped)
            return new($"the Discord Gateway stopped{(stopped.Fatal ? " for good" : "")}: {stopped.Why}", null);
        if (downSince is not { } since)
            return new("the Discord Gateway is connecting (not ready yet since start-up)", null);
        var at = since.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (_time.GetUtcNow() - since > _timing.DownTolerated)
            return new($"the Discord Gateway has been reconnecting since {at}Z, longer than {_timing.DownTolerated:c}: reactions are not received " +
                       "(the log says why each attempt failed)", null);
        var doing = state is GatewayState.Resuming ? "resuming its session" : "identifying afresh";
        return new(null, $"the Discord Gateway is reconnecting ({doing}; down since {at}Z): interactions are answered, reactions arrive once it is back");
    }

    /// <summary>The bot's user id, as READY said (null before the first READY).</summary>
    public string? BotUserId { get; private set; }

    /// <summary>
    /// Connects and stays connected until <paramref name="cancellationToken"/> is cancelled, reconnecting (with capped,
    /// jittered backoff) after every loss. Returns when cancelled, or when Discord refused the bot for good (fatal close
    /// codes: <see cref="State"/> is then <see cref="GatewayState.Stopped"/> with <c>Fatal</c> and says why).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var (next, healthy) = await ConnectOnceAsync(cancellationToken);
                if (next == Next.Stop)
                    break;
                if (next == Next.Identify)
                    ForgetSession();
                // The connection is gone, the backoff included: not ready, whatever the last frame said.
                Enter(Reconnecting());
                failures = healthy ? 0 : failures + 1;
                if (failures > 0)
                    await Task.Delay(Backoff(failures), _time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        if (_stopReason is { } why)
        {
            _logger.LogCritical("Discord Gateway stopped: {Why}. Reactions are not received until this is fixed and the bot restarted.", why);
            Enter(new GatewayState.Stopped(why, Fatal: true));
        }
        else
            Enter(new GatewayState.Stopped("shut down", Fatal: false));
    }

    /// <summary>
    /// Hands the sign-off reactions on <paramref name="openCards"/> to the inbox, as Discord lists them now (every user but
    /// the bot), one listing per card with an id unique to this session: reactions made or removed while the Gateway was down count.
    /// </summary>
    /// <exception cref="InvalidOperationException">No session yet (before READY).</exception>
    public Task ReconcileAsync(IEnumerable<MessageReference> openCards, CancellationToken cancellationToken)
    {
        var session = _sessionId ?? throw new InvalidOperationException("The Gateway has no session yet: reconcile after READY.");
        return _reconciler.ReconcileAsync(openCards, session, BotUserId, cancellationToken);
    }

    private async Task<(Next Next, bool Healthy)> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        var resuming = _sessionId is not null && _resumeUrl is not null;
        Enter(Reconnecting());
        var url = resuming ? _resumeUrl! : await GatewayUrlAsync(cancellationToken);

        using var socket = new ClientWebSocket();
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var link = new GatewayLink(socket, _time, _logger);
        var healthy = false;
        try
        {
            await socket.ConnectAsync(WithQuery(url), connection.Token);
            while (true)
            {
                var frame = await link.ReceiveAsync(connection.Token);
                if (frame is null)
                {
                    var code = (int?)socket.CloseStatus ?? 0;
                    return (AfterClose(code, socket.CloseStatusDescription), healthy);
                }
                var op = frame["op"]?.GetValue<int>() ?? -1;
                switch (op)
                {
                    case GatewayCodes.Hello:
                        var interval = TimeSpan.FromMilliseconds(frame["d"]!["heartbeat_interval"]!.GetValue<double>());
                        _ = link.BeatAsync(interval, () => _sequence, connection);
                        await link.SendAsync(resuming ? ResumeFrame() : IdentifyFrame(), connection.Token);
                        break;
                    case GatewayCodes.HeartbeatAck:
                        link.Acknowledged();
                        break;
                    case GatewayCodes.Heartbeat:
                        await link.SendAsync(new JsonObject { ["op"] = GatewayCodes.Heartbeat, ["d"] = _sequence }, connection.Token);
                        break;
                    case GatewayCodes.Reconnect:
                        _logger.LogInformation("Discord Gateway asked to reconnect: resuming");
                        await link.CloseAsync(connection.Token);
                        return (Next.Resume, true);
                    case GatewayCodes.InvalidSession:
                        var resumable = frame["d"]?.GetValueKind() == JsonValueKind.True;
                        _logger.LogWarning("Discord Gateway: invalid session (resumable: {Resumable})", resumable);
                        await link.CloseAsync(connection.Token);
                        if (resumable)
                            return (Next.Resume, true);
                        // Discord asks for a short random wait before identifying again.
                        Enter(new GatewayState.Connecting());
                        await Task.Delay(_timing.InvalidSessionWait * (0.2 + 0.8 * Random.Shared.NextDouble()), _time, cancellationToken);
                        return (Next.Identify, true);
                    case GatewayCodes.Dispatch:
                        if (!await DispatchAsync(frame, connection.Token))
                        {
                            await link.CloseAsync(connection.Token);
                            return (Next.Resume, false);
                        }
                        healthy |= _standing.State is GatewayState.Ready;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await link.CloseNormallyAsync();
            throw;
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or HttpRequestException or JsonException or DiscordApiException)
        {
            if (link.Zombie)
                _logger.LogWarning("Discord Gateway: no heartbeat ACK before the next beat; reconnecting to resume");
            else
                _logger.LogWarning("Discord Gateway connection lost ({Error}); reconnecting", e.Message);
            if (e is DiscordApiException { Status: 401 })
            {
                _stopReason = "Discord refused the bot token (401) when asked for the Gateway URL; set a fresh Discord:BotToken";
                return (Next.Stop, false);
            }
            return (Next.Resume, healthy);
        }
        finally
        {
            await connection.CancelAsync();
        }
    }

    private Next AfterClose(int code, string? description)
    {
        if (GatewayCodes.Fatal(code) is { } why)
        {
            _stopReason = why;
            return Next.Stop;
        }
        _logger.LogWarning("Discord Gateway closed the connection ({Code} {Description})", code, description);
        return GatewayCodes.SessionLost(code) ? Next.Identify : Next.Resume;
    }

    /// <summary>Handles one dispatch; false when the inbox could not take it (the connection is then resumed, and the event replayed).</summary>
    private async Task<bool> DispatchAsync(JsonNode frame, CancellationToken cancellationToken)
    {
        var type = frame["t"]?.GetValue<string>();
        var sequence = frame["s"]?.GetValue<long>();
        var data = frame["d"];
        switch (type)
        {
            case "READY":
                _sessionId = data!["session_id"]!.GetValue<string>();
                _resumeUrl = data["resume_gateway_url"]?.GetValue<string>();
                BotUserId = data["user"]?["id"]?.GetValue<string>();
                Enter(new GatewayState.Ready(_sessionId));
                _logger.LogInformation("Discord Gateway ready (session {SessionId})", _sessionId);
                if (_openCards is not null)
                    _ = ReconcileInBackgroundAsync(_sessionId, cancellationToken);
                break;
            case "RESUMED":
                Enter(new GatewayState.Ready(_sessionId!));
                _logger.LogInformation("Discord Gateway resumed (session {SessionId}, sequence {Sequence})", _sessionId, _sequence);
                break;
            case "MESSAGE_REACTION_ADD" or "MESSAGE_REACTION_REMOVE" when data is not null && sequence is not null:
                if (!await HandOnReactionAsync(type, data, sequence.Value, cancellationToken))
                    return false;
                break;
            case "MESSAGE_CREATE" when _options.ThreadReplies && data is not null && sequence is not null:
                if (!await HandOnThreadReplyAsync(data, sequence.Value, cancellationToken))
                    return false;
                break;
        }
        if (sequence is not null)
            _sequence = sequence;
        return true;
    }

    /// <summary>
    /// A person's message: the core keeps it when it is in a card's thread. A thread started on a message has that message's id, so the
    /// thread's channel id names the card; a message elsewhere names no card and the core lets it by.
    /// </summary>
    private async Task<bool> HandOnThreadReplyAsync(JsonNode data, long sequence, CancellationToken cancellationToken)
    {
        if (data["guild_id"]?.GetValue<string>() != _options.GuildId || data["author"]?["bot"]?.GetValue<bool>() == true
            || data["author"]?["id"]?.GetValue<string>() is not { } user || data["channel_id"]?.GetValue<string>() is not { } thread
            || data["content"]?.GetValue<string>() is not { Length: > 0 } text)
            return true;
        var eventId = $"{_sessionId}:{sequence}";
        try
        {
            await _inbox.AcceptAsync(new ThreadReplied(user, new MessageReference(thread, thread), text, eventId), cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "Discord message {EventId} could not be taken by the inbox: resuming to have it replayed", eventId);
            return false;
        }
    }

    private async Task<bool> HandOnReactionAsync(string type, JsonNode data, long sequence, CancellationToken cancellationToken)
    {
        var guild = data["guild_id"]?.GetValue<string>();
        if (guild != _options.GuildId)
            return true;
        var user = data["user_id"]!.GetValue<string>();
        var message = new MessageReference(data["channel_id"]!.GetValue<string>(), data["message_id"]!.GetValue<string>());
        // A deleted custom emoji has no name: it means nothing, and the audit still records that something was used.
        var name = data["emoji"]?["name"]?.GetValue<string>() ?? data["emoji"]?["id"]?.GetValue<string>() ?? "?";
        var emoji = ReactionEmojis.Read(name);
        var eventId = $"{_sessionId}:{sequence}";
        if (data["member"]?["roles"] is JsonArray roles)
            _roles.Prime(user, roles.Select(r => r!.GetValue<string>()));
        ChatEvent reaction = type == "MESSAGE_REACTION_ADD"
            ? new ReactionAdded(user, message, emoji, name, eventId)
            : new ReactionRemoved(user, message, emoji, name, eventId);
        try
        {
            await _inbox.AcceptAsync(reaction, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "Discord reaction {EventId} could not be taken by the inbox: resuming to have it replayed", eventId);
            return false;
        }
    }

    private async Task ReconcileInBackgroundAsync(string session, CancellationToken cancellationToken)
    {
        try
        {
            var cards = await _openCards!(cancellationToken);
            await _reconciler.ReconcileAsync(cards, session, BotUserId, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "Discord reconciliation after READY failed: reactions made while disconnected may be missing until the next READY");
        }
        catch (OperationCanceledException)
        {
        }
    }

    private JsonObject IdentifyFrame() => new()
    {
        ["op"] = GatewayCodes.Identify,
        ["d"] = new JsonObject
        {
            ["token"] = _options.BotToken,
            ["intents"] = GatewayCodes.Intents | (_options.ThreadReplies ? GatewayCodes.ThreadReplyIntents : 0),
            ["properties"] = new JsonObject { ["os"] = Environment.OSVersion.Platform.ToString().ToLowerInvariant(), ["browser"] = "chatops", ["device"] = "chatops" },
        },
    };

    private JsonObject ResumeFrame() => new()
    {
        ["op"] = GatewayCodes.Resume,
        ["d"] = new JsonObject { ["token"] = _options.BotToken, ["session_id"] = _sessionId, ["seq"] = _sequence },
    };

    private GatewayState Reconnecting() =>
        _sessionId is not null && _resumeUrl is not null ? new GatewayState.Resuming() : new GatewayState.Connecting();

    // Every change of state goes through here: leaving Ready starts the clock readiness judges; Ready stops it.
    private void Enter(GatewayState next)
    {
        var now = _standing;
        var downSince = next is GatewayState.Ready ? null : now.State is GatewayState.Ready ? _time.GetUtcNow() : now.DownSince;
        _standing = new Standing(next, downSince);
    }

    private void ForgetSession()
    {
        _sessionId = null;
        _resumeUrl = null;
        _sequence = null;
    }

    private async Task<string> GatewayUrlAsync(CancellationToken cancellationToken)
    {
        if (_gatewayUrl is not null)
            return _gatewayUrl;
        if (!string.IsNullOrWhiteSpace(_options.GatewayUrl))
            return _gatewayUrl = _options.GatewayUrl;
        var answer = await _rest.SendAsync(new DiscordRequest(HttpMethod.Get, "gateway/bot", "gateway/bot"), cancellationToken);
        if (answer.TryGetProperty("session_start_limit", out var limit) && limit.TryGetProperty("remaining", out var remaining))
            _logger.LogInformation("Discord Gateway: {Remaining} session starts left today", remaining.GetInt32());
        return _gatewayUrl = answer.GetProperty("url").GetString()!;
    }

    private static Uri WithQuery(string url)
    {
        var builder = new UriBuilder(url) { Query = "v=10&encoding=json" };
        if (builder.Path.Length == 0)
            builder.Path = "/";
        return builder.Uri;
    }

    private TimeSpan Backoff(int failures)
    {
        var doubled = _timing.ReconnectBase * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = doubled < _timing.ReconnectCap ? doubled : _timing.ReconnectCap;
        // Jitter, so that many bots (or replicas) cut off together do not all come back in the same instant.
        return capped * (0.5 + 0.5 * Random.Shared.NextDouble());
    }
}
