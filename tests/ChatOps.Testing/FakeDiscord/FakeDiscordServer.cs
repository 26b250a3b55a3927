using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatOps.Testing.FakeDiscord;

/// <summary>
/// A fake Discord on 127.0.0.1 (Kestrel, a free port): the REST routes the bot uses (messages, edits, threads, reactions,
/// members, command registration, interaction webhooks, <c>/gateway/bot</c>) and the Gateway WebSocket
/// (<see cref="Gateway"/>). Records every request with its headers; answers can be scripted (<see cref="Script"/>:
/// 429 with <c>retry_after</c>, 4xx with Discord's error codes, 500) and routes limited (<see cref="LimitRoute"/>).
/// </summary>
public sealed class FakeDiscordServer : IAsyncDisposable
{
    private const string ApiPrefix = "/api/v10/";

    private readonly WebApplication _app;
    private readonly FakeDiscordState _state = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly List<(string Method, string PathContains, Queue<FakeReply> Replies)> _scripts = [];
    private readonly List<FakeBucket> _buckets = [];

    private FakeDiscordServer(WebApplication app, string botToken, string botUserId, string applicationId)
    {
        _app = app;
        BotToken = botToken;
        BotUserId = botUserId;
        ApplicationId = applicationId;
    }

    /// <summary>The token the fake accepts (<c>Authorization: Bot {token}</c>); anything else is answered 401.</summary>
    public string BotToken { get; }

    /// <summary>The bot's user id (<c>GET /users/@me</c>, READY's <c>user.id</c>).</summary>
    public string BotUserId { get; }

    /// <summary>The application id the webhook and command routes expect.</summary>
    public string ApplicationId { get; }

    /// <summary>The REST base to configure as <c>Discord:ApiBaseUrl</c> (ends in <c>/api/v10/</c>).</summary>
    public string ApiBaseUrl { get; private set; } = "";

    /// <summary>The Gateway; its URL is what <c>GET /gateway/bot</c> answers.</summary>
    public FakeGateway Gateway { get; private set; } = null!;

    /// <summary>Every REST request so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Starts the fake on a free port of 127.0.0.1.</summary>
    public static async Task<FakeDiscordServer> StartAsync(string botToken = "fake-bot-token", string botUserId = "100000000000000001",
        string applicationId = "100000000000000002", CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeDiscordServer(app, botToken, botUserId, applicationId);
        app.UseWebSockets();
        fake.Gateway = new FakeGateway(botToken, botUserId);
        app.Map("/gateway", fake.Gateway.AcceptAsync);
        app.Map("/gateway-resume", fake.Gateway.AcceptAsync);
        // Endpoints, not app.Run: a terminal middleware would run before the routed WebSocket endpoints.
        app.Map("/api/v10/{**rest}", fake.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.ApiBaseUrl = address.TrimEnd('/') + ApiPrefix;
        var ws = "ws" + address.TrimEnd('/')["http".Length..];
        fake.Gateway.Urls(ws + "/gateway", ws + "/gateway-resume");
        return fake;
    }

    /// <summary>The next requests with <paramref name="method"/> whose path contains <paramref name="pathContains"/> get these answers, in order.</summary>
    public void Script(string method, string pathContains, params FakeReply[] replies)
    {
        lock (_scripts)
            _scripts.Add((method, pathContains, new Queue<FakeReply>(replies)));
    }

    /// <summary>
    /// Limits a route as Discord does: <paramref name="limit"/> requests per <paramref name="window"/>, announced in the
    /// <c>X-RateLimit-*</c> headers of each answer; a request over the limit is answered 429 and counted in <see cref="RateLimitViolations"/>.
    /// </summary>
    public void LimitRoute(string method, string pathContains, int limit, TimeSpan window)
    {
        lock (_buckets)
            _buckets.Add(new FakeBucket(method, pathContains, limit, window, TimeProvider.System));
    }

    /// <summary>Requests that went over a <see cref="LimitRoute"/> limit.</summary>
    public int RateLimitViolations { get { lock (_buckets) return _buckets.Sum(b => b.Violations); } }

    /// <summary>The messages of a channel (or thread) in the order they were posted.</summary>
    public IReadOnlyList<FakeMessage> MessagesIn(string channelId) =>
        [.. _state.Messages.Values.Where(m => m.ChannelId == channelId).OrderBy(m => long.Parse(m.Id, CultureInfo.InvariantCulture))];

    /// <summary>A message by id, or null.</summary>
    public FakeMessage? Message(string messageId) => _state.Messages.GetValueOrDefault(messageId);

    /// <summary>Posts a message as someone else would (a card the bot posted before a restart, say).</summary>
    public FakeMessage AddMessage(string channelId, string title)
    {
        var message = new FakeMessage(channelId, _state.NextId(), new JsonObject { ["content"] = title });
        _state.Messages[message.Id] = message;
        return message;
    }

    /// <summary>How many times a thread was started on <paramref name="messageId"/> (a second attempt is refused with 160004).</summary>
    public int ThreadStartsOn(string messageId) => _state.ThreadStarts.GetValueOrDefault(messageId);

    /// <summary>Records a reaction without dispatching it: one made while the bot was not listening.</summary>
    public void AddReaction(string messageId, string emoji, string userId) => _state.React(messageId, emoji, userId);

    /// <summary>Takes a reaction away without dispatching it: one removed while the bot was not listening.</summary>
    public void RemoveReaction(string messageId, string emoji, string userId) => _state.Unreact(messageId, emoji, userId);

    /// <summary>Deletes a message as someone else would: reading its reactions is then answered 404 10008.</summary>
    public void DeleteMessage(string messageId) => _state.Messages.TryRemove(messageId, out _);

    /// <summary>Who reacted <paramref name="emoji"/> on the message, in order.</summary>
    public IReadOnlyList<string> ReactionsOn(string messageId, string emoji)
    {
        var users = _state.Reactions.GetValueOrDefault((messageId, emoji));
        if (users is null)
            return [];
        lock (users)
            return [.. users];
    }

    /// <summary>Sets a guild member's roles (<c>GET /guilds/{g}/members/{u}</c>); unknown members are answered 404 10007.</summary>
    public void SetMemberRoles(string userId, params string[] roles) => _state.MemberRoles[userId] = roles;

    /// <summary>The guild's commands as last overwritten (null before any registration).</summary>
    public JsonArray? RegisteredCommands => _state.Commands?.DeepClone().AsArray();

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var at = TimeProvider.System.GetUtcNow();
        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        if (!raw.StartsWith(ApiPrefix, StringComparison.Ordinal))
        {
            context.Response.StatusCode = 404;
            return;
        }
        var path = raw[ApiPrefix.Length..];
        var method = context.Request.Method;
        var (body, files) = await ReadBodyAsync(context.Request);
        _requests.Enqueue(new RecordedRequest(method, path, context.Request.Headers.Authorization.FirstOrDefault(),
            context.Request.Headers.UserAgent.FirstOrDefault(), context.Request.ContentType, body, files) { At = at });

        if (context.Request.Headers.Authorization.FirstOrDefault() != "Bot " + BotToken)
        {
            await WriteAsync(context, 401, new JsonObject { ["message"] = "401: Unauthorized", ["code"] = 0 });
            return;
        }
        if (NextScripted(method, path) is { } scripted)
        {
            foreach (var (name, value) in scripted.Headers)
                context.Response.Headers[name] = value;
            await WriteAsync(context, scripted.Status, scripted.Body);
            return;
        }
        FakeBucket? bucket;
        lock (_buckets)
            bucket = _buckets.FirstOrDefault(b => b.Matches(method, path));
        if (bucket is not null)
        {
            var (over, remaining, resetAfter) = bucket.Take();
            context.Response.Headers["X-RateLimit-Bucket"] = bucket.Name;
            context.Response.Headers["X-RateLimit-Limit"] = "1";
            context.Response.Headers["X-RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["X-RateLimit-Reset-After"] = resetAfter.ToString("0.000", CultureInfo.InvariantCulture);
            if (over)
            {
                await WriteAsync(context, 429, FakeReply.RateLimited(resetAfter).Body);
                return;
            }
        }

        var (status, answer) = Route(method, path.Split('?')[0].Split('/'), Query(path), body);
        await WriteAsync(context, status, answer);
    }

    private (int Status, JsonNode? Body) Route(string method, string[] s, IReadOnlyDictionary<string, string> query, string body)
    {
        JsonNode? Json() => body.Length == 0 ? new JsonObject() : JsonNode.Parse(body);
        switch (method, s)
        {
            case ("GET", ["users", "@me"]):
                return (200, new JsonObject { ["id"] = BotUserId, ["username"] = "chatops", ["bot"] = true });
            case ("GET", ["gateway", "bot"]):
                return (200, new JsonObject
                {
                    ["url"] = Gateway.Url, ["shards"] = 1,
                    ["session_start_limit"] = new JsonObject { ["total"] = 1000, ["remaining"] = 999, ["reset_after"] = 0, ["max_concurrency"] = 1 },
                });
            case ("POST", ["channels", var channel, "messages"]):
            {
                var message = new FakeMessage(channel, _state.NextId(), Json()!);
                _state.Messages[message.Id] = message;
                return (200, MessageJson(message));
            }
            case ("PATCH", ["channels", _, "messages", var id]):
                if (!_state.Messages.TryGetValue(id, out var edited))
                    return (404, Error(10008, "Unknown Message"));
                edited.Edit(Json()!);
                return (200, MessageJson(edited));
            case ("POST", ["channels", _, "messages", var id, "threads"]):
                if (!_state.Messages.ContainsKey(id))
                    return (404, Error(10008, "Unknown Message"));
                if (_state.ThreadStarts.AddOrUpdate(id, 1, (_, n) => n + 1) > 1)
                    return (400, Error(160004, "A thread has already been created for this message"));
                return (201, new JsonObject { ["id"] = id, ["type"] = 11, ["name"] = Json()!["name"]?.DeepClone() });
            case ("PUT", ["channels", _, "messages", var id, "reactions", var emoji, "@me"]):
                var decoded = Uri.UnescapeDataString(emoji);
                if (decoded == emoji && emoji.Any(c => c > 127))
                    return (400, Error(10014, "Unknown Emoji"));
                _state.React(id, decoded, BotUserId);
                return (204, null);
            case ("GET", ["channels", _, "messages", var id, "reactions", var emoji]):
            {
                if (!_state.Messages.ContainsKey(id))
                    return (404, Error(10008, "Unknown Message"));
                var limit = query.TryGetValue("limit", out var l) ? int.Parse(l, CultureInfo.InvariantCulture) : 25;
                var after = query.TryGetValue("after", out var a) ? ulong.Parse(a, CultureInfo.InvariantCulture) : 0UL;
                var users = ReactionsOn(id, Uri.UnescapeDataString(emoji))
                    .Select(u => ulong.Parse(u, CultureInfo.InvariantCulture)).Where(u => u > after).Order().Take(limit);
                return (200, new JsonArray([.. users.Select(u => (JsonNode)new JsonObject { ["id"] = u.ToString(CultureInfo.InvariantCulture), ["username"] = "user" + u })]));
            }
            case ("GET", ["guilds", _, "members", var user]):
                return _state.MemberRoles.TryGetValue(user, out var roles)
                    ? (200, new JsonObject { ["user"] = new JsonObject { ["id"] = user }, ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)r)]) })
                    : (404, Error(10007, "Unknown Member"));
            case ("PUT", ["applications", var app, "guilds", _, "commands"]) when app == ApplicationId:
            {
                var commands = Json()!.AsArray();
                foreach (var command in commands)
                {
                    var name = command!["name"]!.GetValue<string>();
                    command["id"] = _state.CommandIds.GetOrAdd(name, _ => _state.NextId());
                    command["application_id"] = ApplicationId;
                }
                _state.Commands = commands;
                return (200, commands.DeepClone());
            }
            case ("PATCH", ["webhooks", var app, _, "messages", "@original"]) when app == ApplicationId:
            case ("POST", ["webhooks", var app2, _]) when app2 == ApplicationId:
                return (200, new JsonObject { ["id"] = _state.NextId(), ["content"] = Json()!["content"]?.DeepClone() });
            default:
                return (404, Error(0, "404: Not Found"));
        }
    }

    private FakeReply? NextScripted(string method, string path)
    {
        lock (_scripts)
            foreach (var (m, fragment, replies) in _scripts)
                if (m == method && path.Contains(fragment, StringComparison.Ordinal) && replies.TryDequeue(out var reply))
                    return reply;
        return null;
    }

    private static JsonObject MessageJson(FakeMessage message) => new()
    {
        ["id"] = message.Id,
        ["channel_id"] = message.ChannelId,
        ["content"] = message.Payload["content"]?.DeepClone(),
    };

    private static JsonObject Error(int code, string message) => new() { ["code"] = code, ["message"] = message };

    private static Dictionary<string, string> Query(string path)
    {
        var q = path.IndexOf('?');
        return q < 0
            ? []
            : path[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2))
                .ToDictionary(p => p[0], p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "");
    }

    private static async Task<(string Body, IReadOnlyList<string> Files)> ReadBodyAsync(HttpRequest request)
    {
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync();
            return (form["payload_json"].ToString(), [.. form.Files.Select(f => $"{f.Name}:{f.FileName}")]);
        }
        using var reader = new StreamReader(request.Body);
        return (await reader.ReadToEndAsync(), []);
    }

    private static async Task WriteAsync(HttpContext context, int status, JsonNode? body)
    {
        context.Response.StatusCode = status;
        if (body is null || status == 204)
            return;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }
}
