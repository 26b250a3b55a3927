using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ChatOps.Testing.FakeDiscord;

/// <summary>A client's opening move on a connection: IDENTIFY or RESUME, with what it carried.</summary>
/// <param name="Kind"><c>IDENTIFY</c> or <c>RESUME</c>.</param>
/// <param name="Endpoint"><c>/gateway</c> (the URL from <c>/gateway/bot</c>) or <c>/gateway-resume</c> (READY's <c>resume_gateway_url</c>).</param>
/// <param name="SessionId">RESUME's <c>session_id</c>; null for IDENTIFY.</param>
/// <param name="Sequence">RESUME's <c>seq</c>.</param>
/// <param name="Intents">IDENTIFY's <c>intents</c>.</param>
public sealed record GatewayHandshake(string Kind, string Endpoint, string? Token, string? SessionId, long? Sequence, int? Intents);

/// <summary>
/// The fake's Gateway WebSocket: HELLO with a short <see cref="HeartbeatIntervalMs"/>, an ACK for every heartbeat unless
/// withheld (<see cref="WithholdAcks"/>), READY on IDENTIFY (a new session), replay and RESUMED on RESUME of a known
/// session (INVALID_SESSION false otherwise), dispatches pushed by the test (<see cref="DispatchAsync"/>), RECONNECT,
/// INVALID_SESSION and close codes on demand, and refused connections while the test keeps it down (<see cref="Refusing"/>).
/// </summary>
public sealed class FakeGateway(string botToken, string botUserId) : IAsyncDisposable
{
    private sealed class Connection(WebSocket socket, string endpoint)
    {
        public WebSocket Socket { get; } = socket;
        public string Endpoint { get; } = endpoint;
        public SemaphoreSlim Sending { get; } = new(1, 1);
        public volatile bool WithholdAcks;
        public string? SessionId;
    }

    private sealed class Session
    {
        public long Sequence;
        public List<JsonObject> Sent { get; } = [];
    }

    private readonly ConcurrentQueue<GatewayHandshake> _handshakes = new();
    private readonly ConcurrentDictionary<string, Session> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private volatile Connection? _current;
    private int _sessionCounter;
    private int _connections;
    private int _heartbeats;
    private int _refused;
    private string _resumeUrl = "";

    /// <summary>What HELLO announces; short so tests see beats (and missed ACKs) quickly.</summary>
    public int HeartbeatIntervalMs { get; set; } = 200;

    /// <summary>The URL <c>/gateway/bot</c> answers.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every IDENTIFY and RESUME, in order.</summary>
    public IReadOnlyList<GatewayHandshake> Handshakes => [.. _handshakes];

    /// <summary>WebSocket connections accepted so far.</summary>
    public int Connections => _connections;

    /// <summary>While true, every attempt to connect is answered 503 (counted in <see cref="Refused"/>): the Gateway is down for the client.</summary>
    public bool Refusing { get; set; }

    /// <summary>Connection attempts answered 503 while <see cref="Refusing"/>.</summary>
    public int Refused => _refused;

    /// <summary>Heartbeats received so far (on every connection).</summary>
    public int Heartbeats => _heartbeats;

    /// <summary>The session of the current connection (after READY or RESUMED), or null.</summary>
    public string? CurrentSessionId => _current?.SessionId;

    /// <summary>True while a client is connected and has a session.</summary>
    public bool HasReadyClient => _current is { SessionId: not null, Socket.State: WebSocketState.Open };

    internal void Urls(string gateway, string resume)
    {
        Url = gateway;
        _resumeUrl = resume;
    }

    /// <summary>Stops answering heartbeats on the current connection (a later connection is answered again).</summary>
    public void WithholdAcks() => Current().WithholdAcks = true;

    /// <summary>Pushes a dispatch (op 0) with the session's next sequence number; returns that number.</summary>
    public async Task<long> DispatchAsync(string type, JsonObject data)
    {
        var connection = Current();
        var session = _sessions[connection.SessionId ?? throw new InvalidOperationException("no session on the current connection")];
        JsonObject frame;
        lock (session)
        {
            frame = new JsonObject { ["op"] = 0, ["t"] = type, ["s"] = ++session.Sequence, ["d"] = data };
            session.Sent.Add(frame);
        }
        await SendAsync(connection, (JsonObject)frame.DeepClone());
        return frame["s"]!.GetValue<long>();
    }

    /// <summary>A <c>MESSAGE_REACTION_ADD</c> payload, with <c>member.roles</c>.</summary>
    public static JsonObject ReactionAdd(string guildId, string channelId, string messageId, string userId, string emoji, params string[] roles) => new()
    {
        ["user_id"] = userId, ["channel_id"] = channelId, ["message_id"] = messageId, ["guild_id"] = guildId,
        ["member"] = new JsonObject { ["user"] = new JsonObject { ["id"] = userId }, ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)r)]) },
        ["emoji"] = new JsonObject { ["id"] = null, ["name"] = emoji }, ["burst"] = false, ["type"] = 0,
    };

    /// <summary>A <c>MESSAGE_REACTION_REMOVE</c> payload (no member, as Discord sends it).</summary>
    public static JsonObject ReactionRemove(string guildId, string channelId, string messageId, string userId, string emoji) => new()
    {
        ["user_id"] = userId, ["channel_id"] = channelId, ["message_id"] = messageId, ["guild_id"] = guildId,
        ["emoji"] = new JsonObject { ["id"] = null, ["name"] = emoji }, ["burst"] = false, ["type"] = 0,
    };

    /// <summary>Sends op 7 RECONNECT on the current connection.</summary>
    public Task SendReconnectAsync() => SendAsync(Current(), new JsonObject { ["op"] = 7, ["d"] = null });

    /// <summary>Sends op 9 INVALID_SESSION; when not <paramref name="resumable"/> the session is forgotten.</summary>
    public Task SendInvalidSessionAsync(bool resumable)
    {
        var connection = Current();
        if (!resumable && connection.SessionId is { } id)
            _sessions.TryRemove(id, out _);
        return SendAsync(connection, new JsonObject { ["op"] = 9, ["d"] = resumable });
    }

    /// <summary>Closes the current connection with <paramref name="code"/> (4004, 4009…); 4007 and 4009 also forget the session.</summary>
    public async Task CloseAsync(int code)
    {
        var connection = Current();
        if (code is 4007 or 4009 && connection.SessionId is { } id)
            _sessions.TryRemove(id, out _);
        await connection.Sending.WaitAsync();
        try
        {
            await connection.Socket.CloseOutputAsync((WebSocketCloseStatus)code, "closed by the test", CancellationToken.None);
        }
        finally
        {
            connection.Sending.Release();
        }
    }

    internal async Task AcceptAsync(HttpContext context)
    {
        if (Refusing)
        {
            Interlocked.Increment(ref _refused);
            context.Response.StatusCode = 503;
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var connection = new Connection(socket, context.Request.Path);
        _current = connection;
        Interlocked.Increment(ref _connections);
        try
        {
            await SendAsync(connection, new JsonObject { ["op"] = 10, ["d"] = new JsonObject { ["heartbeat_interval"] = HeartbeatIntervalMs } });
            while (socket.State == WebSocketState.Open)
            {
                var frame = await ReceiveAsync(socket, _stopping.Token);
                if (frame is null)
                    break;
                await HandleAsync(connection, frame);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away: what it did next is what the test looks at.
        }
    }

    private async Task HandleAsync(Connection connection, JsonNode frame)
    {
        var d = frame["d"];
        switch (frame["op"]?.GetValue<int>())
        {
            case 1:
                Interlocked.Increment(ref _heartbeats);
                if (!connection.WithholdAcks)
                    await SendAsync(connection, new JsonObject { ["op"] = 11, ["d"] = null });
                break;
            case 2:
                _handshakes.Enqueue(new GatewayHandshake("IDENTIFY", connection.Endpoint, d?["token"]?.GetValue<string>(), null, null, d?["intents"]?.GetValue<int>()));
                if (d?["token"]?.GetValue<string>() != botToken)
                {
                    await connection.Socket.CloseOutputAsync((WebSocketCloseStatus)4004, "Authentication failed.", CancellationToken.None);
                    return;
                }
                var id = $"session-{Interlocked.Increment(ref _sessionCounter)}";
                var session = _sessions[id] = new Session();
                connection.SessionId = id;
                JsonObject ready;
                lock (session)
                {
                    ready = new JsonObject
                    {
                        ["op"] = 0, ["t"] = "READY", ["s"] = ++session.Sequence,
                        ["d"] = new JsonObject
                        {
                            ["v"] = 10, ["session_id"] = id, ["resume_gateway_url"] = _resumeUrl,
                            ["user"] = new JsonObject { ["id"] = botUserId, ["username"] = "chatops", ["bot"] = true }, ["guilds"] = new JsonArray(),
                        },
                    };
                    session.Sent.Add(ready);
                }
                await SendAsync(connection, (JsonObject)ready.DeepClone());
                break;
            case 6:
                var sessionId = d?["session_id"]?.GetValue<string>();
                var seq = d?["seq"]?.GetValue<long?>();
                _handshakes.Enqueue(new GatewayHandshake("RESUME", connection.Endpoint, d?["token"]?.GetValue<string>(), sessionId, seq, null));
                if (sessionId is null || !_sessions.TryGetValue(sessionId, out var resumed))
                {
                    await SendAsync(connection, new JsonObject { ["op"] = 9, ["d"] = false });
                    return;
                }
                connection.SessionId = sessionId;
                List<JsonObject> replay;
                long resumedSeq;
                lock (resumed)
                {
                    replay = [.. resumed.Sent.Where(f => f["s"]!.GetValue<long>() > (seq ?? 0)).Select(f => (JsonObject)f.DeepClone())];
                    resumedSeq = ++resumed.Sequence;
                }
                foreach (var missed in replay)
                    await SendAsync(connection, missed);
                await SendAsync(connection, new JsonObject { ["op"] = 0, ["t"] = "RESUMED", ["s"] = resumedSeq, ["d"] = new JsonObject() });
                break;
        }
    }

    private Connection Current() => _current ?? throw new InvalidOperationException("no client has connected to the fake Gateway");

    private static async Task SendAsync(Connection connection, JsonObject frame)
    {
        var bytes = Encoding.UTF8.GetBytes(frame.ToJsonString());
        await connection.Sending.WaitAsync();
        try
        {
            if (connection.Socket.State == WebSocketState.Open)
                await connection.Socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            connection.Sending.Release();
        }
    }

    private static async Task<JsonNode?> ReceiveAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        using var message = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (socket.State == WebSocketState.CloseReceived)
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
                return JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _stopping.Dispose();
    }
}
