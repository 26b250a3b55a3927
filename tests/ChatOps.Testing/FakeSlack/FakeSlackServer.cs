using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatOps.Testing.FakeSlack;

/// <summary>
/// A fake Slack on 127.0.0.1 (a real Kestrel server on a free port) speaking the parts of Slack's wire protocol the bot
/// uses: the Web API methods (<c>auth.test</c>, <c>chat.postMessage</c>, <c>chat.update</c>, <c>chat.postEphemeral</c>,
/// <c>reactions.add</c>, <c>usergroups.users.list</c>, <c>files.getUploadURLExternal</c>, <c>files.completeUploadExternal</c>,
/// <c>apps.connections.open</c>), <c>response_url</c>s, file upload URLs and Socket Mode WebSockets. It records every call
/// with its <c>Authorization</c> header, keeps the channel history, and can be told to fail the next calls of a method
/// (<see cref="FailNext"/>) or a share of them for as long as it runs (<see cref="FailEvery"/>: a 429 storm).
/// </summary>
public sealed class FakeSlackServer : IAsyncDisposable
{
    /// <summary>The bot token the fake accepts for the bot's methods.</summary>
    public const string BotToken = "xoxb-fake-bot-token";

    /// <summary>The app-level token the fake accepts for <c>apps.connections.open</c>.</summary>
    public const string AppToken = "xapp-fake-app-token";

    /// <summary>The bot's user id, as <c>auth.test</c> answers it.</summary>
    public const string BotUserId = "UBOT";

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<FakeSlackCall> _calls = [];
    private readonly List<FakeSlackMessage> _messages = [];
    private readonly List<FakeSlackMessage> _ephemerals = [];
    private readonly HashSet<(string Channel, string Ts, string Name)> _reactions = [];
    private readonly Dictionary<string, FakeSlackFile> _files = [];
    private readonly List<FakeSlackResponse> _responses = [];
    private readonly Dictionary<string, IReadOnlySet<string>> _userGroups = [];
    private readonly Dictionary<string, Queue<FakeSlackFailure>> _failures = [];
    private readonly Dictionary<string, (int Every, FakeSlackFailure Failure, int Calls)> _recurring = [];
    private readonly List<TaskCompletionSource<FakeSlackSocket>> _sockets = [];
    private long _lastTs;
    private int _lastFile;
    private int _connectionsOpened;

    private FakeSlackServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>Starts a fake on a free port of 127.0.0.1.</summary>
    public static async Task<FakeSlackServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeSlackServer(app);
        app.UseWebSockets();
        app.MapMethods("/api/{method}", ["GET", "POST"], (Func<HttpContext, string, Task>)fake.ApiAsync);
        app.MapPost("/response/{id}", (Func<HttpContext, string, Task>)fake.ResponseAsync);
        app.MapPost("/upload/{id}", (Func<HttpContext, string, Task>)fake.UploadAsync);
        app.Map("/socket/{number:int}", (Func<HttpContext, int, Task>)fake.SocketAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = new Uri(address.TrimEnd('/') + "/");
        return fake;
    }

    /// <summary>The server's root, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>What <c>Slack:ApiBaseUrl</c> should be: <c>http://127.0.0.1:port/api/</c>.</summary>
    public Uri ApiBaseUrl => new(BaseUrl, "api/");

    /// <summary>A <c>response_url</c> on the fake for a slash command; posts to it are kept as <see cref="Responses"/>.</summary>
    public Uri ResponseUrl(string id) => new(BaseUrl, $"response/{Uri.EscapeDataString(id)}");

    /// <summary>Every call so far, in the order received.</summary>
    public IReadOnlyList<FakeSlackCall> Calls
    {
        get
        {
            lock (_gate)
                return [.. _calls];
        }
    }

    /// <summary>The calls of one method, in order.</summary>
    public IReadOnlyList<FakeSlackCall> CallsOf(string method) => Calls.Where(c => c.Method == method).ToList();

    /// <summary>The bot's messages (top-level and thread replies), as last posted or updated, in the order posted.</summary>
    public IReadOnlyList<FakeSlackMessage> Messages
    {
        get
        {
            lock (_gate)
                return [.. _messages];
        }
    }

    /// <summary>Messages sent with <c>chat.postEphemeral</c> (<see cref="FakeSlackMessage.ThreadTs"/> holds the user).</summary>
    public IReadOnlyList<FakeSlackMessage> Ephemerals
    {
        get
        {
            lock (_gate)
                return [.. _ephemerals];
        }
    }

    /// <summary>Posts to <see cref="ResponseUrl"/>s, in order.</summary>
    public IReadOnlyList<FakeSlackResponse> Responses
    {
        get
        {
            lock (_gate)
                return [.. _responses];
        }
    }

    /// <summary>Files, by id.</summary>
    public IReadOnlyDictionary<string, FakeSlackFile> Files
    {
        get
        {
            lock (_gate)
                return new Dictionary<string, FakeSlackFile>(_files);
        }
    }

    /// <summary>Whether the reaction <paramref name="name"/> is on the message.</summary>
    public bool HasReaction(string channel, string ts, string name)
    {
        lock (_gate)
            return _reactions.Contains((channel, ts, name));
    }

    /// <summary>How many times <c>apps.connections.open</c> handed out a URL.</summary>
    public int ConnectionsOpened
    {
        get
        {
            lock (_gate)
                return _connectionsOpened;
        }
    }

    /// <summary>Makes <paramref name="groupId"/> a user group with these members (<c>usergroups.users.list</c>).</summary>
    public void SetUserGroup(string groupId, params string[] members)
    {
        lock (_gate)
            _userGroups[groupId] = members.ToHashSet();
    }

    /// <summary>
    /// The next <paramref name="times"/> calls of <paramref name="method"/> (a Web API method, <c>response_url</c> or
    /// <c>file upload</c>) fail as <paramref name="failure"/> says, before any other scripted failure of it is used up.
    /// </summary>
    public void FailNext(string method, int times, FakeSlackFailure failure)
    {
        lock (_gate)
        {
            if (!_failures.TryGetValue(method, out var queue))
                _failures[method] = queue = new Queue<FakeSlackFailure>();
            for (var i = 0; i < times; i++)
                queue.Enqueue(failure);
        }
    }

    /// <summary>
    /// From now on, every <paramref name="every"/>th call of <paramref name="method"/> (counting every call, a retry included)
    /// fails as <paramref name="failure"/> says — a 429 storm with <see cref="FakeSlackFailure.RateLimited"/>. Calls scripted
    /// with <see cref="FailNext"/> fail first and are not counted.
    /// </summary>
    public void FailEvery(string method, int every, FakeSlackFailure failure)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        lock (_gate)
            _recurring[method] = (every, failure, 0);
    }

    /// <summary>The <paramref name="number"/>th Socket Mode connection (1-based), once the client opened it.</summary>
    public Task<FakeSlackSocket> SocketAsync(int number)
    {
        lock (_gate)
            return SocketSlot(number).Task;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private TaskCompletionSource<FakeSlackSocket> SocketSlot(int number)
    {
        while (_sockets.Count < number)
            _sockets.Add(new TaskCompletionSource<FakeSlackSocket>(TaskCreationOptions.RunContinuationsAsynchronously));
        return _sockets[number - 1];
    }

    private async Task ApiAsync(HttpContext http, string method)
    {
        var (body, arguments) = await ReadAsync(http.Request);
        var authorization = http.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null;
        JsonObject answer;
        FakeSlackFailure? failure;
        lock (_gate)
        {
            failure = NextFailure(method);
            if (failure is not null)
            {
                Record(method, http, body, arguments, authorization, failure);
                answer = [];
            }
            else
            {
                answer = Respond(method, arguments, authorization);
                _calls.Add(new FakeSlackCall(method, http.Request.ContentType ?? "", body, arguments, authorization,
                    answer["ok"]!.GetValue<bool>() ? "ok" : answer["error"]!.GetValue<string>()) { At = DateTimeOffset.UtcNow });
            }
        }
        if (failure is not null)
            await WriteFailureAsync(http, failure);
        else
            await http.Response.WriteAsJsonAsync(answer);
    }

    // Under the lock.
    private JsonObject Respond(string method, JsonObject arguments, string? authorization)
    {
        var expected = method == "apps.connections.open" ? AppToken : BotToken;
        return authorization is null ? Error("not_authed")
                : authorization != "Bearer " + expected ? Error("invalid_auth")
                : Answer(method, arguments);
    }

    // Under the lock.
    private JsonObject Answer(string method, JsonObject args)
    {
        string? Arg(string name) => args[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : args[name]?.ToJsonString();
        switch (method)
        {
            case "auth.test":
                return Ok(new() { ["url"] = "https://fake.slack.com/", ["team"] = "Fake", ["team_id"] = "TFAKE", ["user"] = "migrator", ["user_id"] = BotUserId, ["bot_id"] = "BFAKE" });
            case "chat.postMessage":
            {
                if (Arg("channel") is not { Length: > 0 } channel)
                    return Error("channel_not_found");
                if (Arg("text") is null && args["blocks"] is null)
                    return Error("no_text");
                var ts = NextTs();
                var threadTs = Arg("thread_ts");
                if (threadTs is not null && !_messages.Any(m => m.Channel == channel && m.Ts == threadTs))
                    return Error("thread_not_found");
                _messages.Add(new FakeSlackMessage(channel, ts, threadTs, Arg("text") ?? "", args["blocks"]?.DeepClone()));
                return Ok(new() { ["channel"] = channel, ["ts"] = ts, ["message"] = new JsonObject { ["text"] = Arg("text"), ["ts"] = ts } });
            }
            case "chat.update":
            {
                var index = _messages.FindIndex(m => m.Channel == Arg("channel") && m.Ts == Arg("ts"));
                if (index < 0)
                    return Error("message_not_found");
                var old = _messages[index];
                _messages[index] = old with { Text = Arg("text") ?? "", Blocks = args["blocks"]?.DeepClone(), Edits = old.Edits + 1 };
                return Ok(new() { ["channel"] = old.Channel, ["ts"] = old.Ts, ["text"] = Arg("text") });
            }
            case "chat.postEphemeral":
            {
                if (Arg("channel") is not { Length: > 0 } channel || Arg("user") is not { Length: > 0 } user)
                    return Error("channel_not_found");
                var ts = NextTs();
                _ephemerals.Add(new FakeSlackMessage(channel, ts, user, Arg("text") ?? "", args["blocks"]?.DeepClone()));
                return Ok(new() { ["message_ts"] = ts });
            }
            case "reactions.add":
            {
                var key = (Arg("channel") ?? "", Arg("timestamp") ?? "", Arg("name") ?? "");
                if (!_messages.Any(m => m.Channel == key.Item1 && m.Ts == key.Item2))
                    return Error("message_not_found");
                return _reactions.Add(key) ? Ok(new()) : Error("already_reacted");
            }
            case "usergroups.users.list":
                return Arg("usergroup") is { } group && _userGroups.TryGetValue(group, out var members)
                    ? Ok(new() { ["users"] = new JsonArray([.. members.Order().Select(m => (JsonNode)m)]) })
                    : Error("no_such_subteam");
            case "files.getUploadURLExternal":
            {
                if (Arg("filename") is not { Length: > 0 } name || !int.TryParse(Arg("length"), out var length))
                    return Error("invalid_arguments");
                var id = $"F{++_lastFile:D4}";
                _files[id] = new FakeSlackFile(id, name, length, Arg("alt_txt"));
                return Ok(new() { ["upload_url"] = new Uri(BaseUrl, $"upload/{id}").AbsoluteUri, ["file_id"] = id });
            }
            case "files.completeUploadExternal":
            {
                if (Arg("files") is not { } filesJson || JsonNode.Parse(filesJson) is not JsonArray files)
                    return Error("invalid_arguments");
                foreach (var file in files)
                {
                    var id = file?["id"]?.GetValue<string>();
                    if (id is null || !_files.TryGetValue(id, out var known) || known.Content is null)
                        return Error("file_not_found");
                    _files[id] = known with { Completed = true, Title = file?["title"]?.GetValue<string>(), Channel = Arg("channel_id"), ThreadTs = Arg("thread_ts") };
                }
                return Ok(new() { ["files"] = files.DeepClone() });
            }
            case "apps.connections.open":
            {
                var number = ++_connectionsOpened;
                var url = new UriBuilder(BaseUrl) { Scheme = "ws", Path = $"socket/{number}" }.Uri;
                return Ok(new() { ["url"] = url.AbsoluteUri });
            }
            default:
                return Error("unknown_method");
        }
    }

    private async Task ResponseAsync(HttpContext http, string id)
    {
        var (body, arguments) = await ReadAsync(http.Request);
        var authorization = http.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null;
        FakeSlackFailure? failure;
        lock (_gate)
        {
            failure = NextFailure("response_url");
            if (failure is not null)
                Record("response_url", http, body, arguments, authorization, failure);
            else
            {
                _calls.Add(new FakeSlackCall("response_url", http.Request.ContentType ?? "", body, arguments, authorization, "ok") { At = DateTimeOffset.UtcNow });
                _responses.Add(new FakeSlackResponse(id, arguments));
            }
        }
        if (failure is not null)
            await WriteFailureAsync(http, failure);
        else
            await http.Response.WriteAsJsonAsync(new JsonObject { ["ok"] = true });
    }

    private async Task UploadAsync(HttpContext http, string id)
    {
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        var authorization = http.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null;
        FakeSlackFailure? failure;
        var found = false;
        lock (_gate)
        {
            failure = NextFailure("file upload");
            if (failure is not null)
                Record("file upload", http, $"{buffer.Length} bytes", [], authorization, failure);
            else
            {
                _calls.Add(new FakeSlackCall("file upload", http.Request.ContentType ?? "", $"{buffer.Length} bytes",
                    new JsonObject { ["file_id"] = id }, authorization, "ok") { At = DateTimeOffset.UtcNow });
                if (_files.TryGetValue(id, out var file))
                {
                    _files[id] = file with { Content = buffer.ToArray() };
                    found = true;
                }
            }
        }
        if (failure is not null)
            await WriteFailureAsync(http, failure);
        else if (!found)
            http.Response.StatusCode = StatusCodes.Status404NotFound;
        else
            await http.Response.WriteAsync($"OK - {buffer.Length}");
    }

    private async Task SocketAsync(HttpContext http, int number)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var connection = new FakeSlackSocket(number, socket);
        lock (_gate)
            SocketSlot(number).TrySetResult(connection);
        await connection.RunAsync(http.RequestAborted);
    }

    // Under the lock.
    private FakeSlackFailure? NextFailure(string method)
    {
        if (_failures.TryGetValue(method, out var queue) && queue.TryDequeue(out var failure))
            return failure;
        if (!_recurring.TryGetValue(method, out var recurring))
            return null;
        _recurring[method] = recurring with { Calls = recurring.Calls + 1 };
        return (recurring.Calls + 1) % recurring.Every == 0 ? recurring.Failure : null;
    }

    // Under the lock.
    private void Record(string method, HttpContext http, string body, JsonObject arguments, string? authorization, FakeSlackFailure failure)
    {
        var outcome = failure switch
        {
            FakeSlackFailure.RateLimited => "429",
            FakeSlackFailure.Error error => error.Code,
            FakeSlackFailure.ServerError server => server.Status.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "failure",
        };
        _calls.Add(new FakeSlackCall(method, http.Request.ContentType ?? "", body, arguments, authorization, outcome) { At = DateTimeOffset.UtcNow });
    }

    private static async Task WriteFailureAsync(HttpContext http, FakeSlackFailure failure)
    {
        switch (failure)
        {
            case FakeSlackFailure.RateLimited limited:
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = limited.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await http.Response.WriteAsJsonAsync(new JsonObject { ["ok"] = false, ["error"] = "ratelimited" });
                break;
            case FakeSlackFailure.Error error:
                await http.Response.WriteAsJsonAsync(new JsonObject { ["ok"] = false, ["error"] = error.Code });
                break;
            case FakeSlackFailure.ServerError server:
                http.Response.StatusCode = server.Status;
                break;
        }
    }

    private string NextTs() => $"1700000000.{++_lastTs:D6}";

    private static JsonObject Ok(JsonObject fields)
    {
        var answer = new JsonObject { ["ok"] = true };
        foreach (var (name, value) in fields.ToList())
        {
            fields.Remove(name);
            answer[name] = value;
        }
        return answer;
    }

    private static JsonObject Error(string code) => new() { ["ok"] = false, ["error"] = code };

    // Query, then form fields or JSON members: Slack takes arguments any of these ways.
    private static async Task<(string Body, JsonObject Arguments)> ReadAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
        var arguments = new JsonObject();
        foreach (var (name, value) in request.Query)
            arguments[name] = value.ToString();
        var type = request.ContentType ?? "";
        if (type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) && body.Length > 0)
        {
            try
            {
                if (JsonNode.Parse(body) is JsonObject json)
                    foreach (var (name, value) in json.ToList())
                        arguments[name] = value?.DeepClone();
            }
            catch (JsonException)
            {
                arguments["_invalid_json"] = true;
            }
        }
        else if (type.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var (name, value) in QueryHelpers.ParseQuery(body))
                arguments[name] = value.ToString();
        }
        return (body, arguments);
    }
}
