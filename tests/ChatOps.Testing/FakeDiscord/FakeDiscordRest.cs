using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;

namespace ChatOps.Testing.FakeDiscord;

/// <summary>One REST request as the fake received it.</summary>
/// <param name="Path">The raw request target after <c>/api/v10/</c>, query included, percent-encoding kept (<c>…/reactions/%E2%9C%85/@me</c>).</param>
/// <param name="Authorization">The <c>Authorization</c> header as sent (null when missing).</param>
/// <param name="Body">The body as text; for multipart, the <c>payload_json</c> part.</param>
/// <param name="FileNames">The file names of multipart <c>files[n]</c> parts.</param>
public sealed record RecordedRequest(string Method, string Path, string? Authorization, string? UserAgent, string? ContentType, string Body, IReadOnlyList<string> FileNames)
{
    /// <summary>When the fake received it (before reading its body): how long a client waited between two requests.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>The body parsed as JSON (null when empty).</summary>
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>A scripted answer to the next request matching a method and path fragment.</summary>
public sealed record FakeReply(int Status, JsonObject Body, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>429 with <c>retry_after</c> (seconds) in the body, <c>Retry-After</c> and, when <paramref name="global"/>, <c>X-RateLimit-Global</c>.</summary>
    public static FakeReply RateLimited(double retryAfter, bool global = false)
    {
        var headers = new Dictionary<string, string> { ["Retry-After"] = Math.Ceiling(retryAfter).ToString(CultureInfo.InvariantCulture) };
        if (global)
            headers["X-RateLimit-Global"] = "true";
        return new(429, new JsonObject { ["message"] = "You are being rate limited.", ["retry_after"] = retryAfter, ["global"] = global }, headers);
    }

    /// <summary>A Discord error: <paramref name="status"/> with <c>{code, message}</c>.</summary>
    public static FakeReply Error(int status, int code, string message) =>
        new(status, new JsonObject { ["code"] = code, ["message"] = message }, new Dictionary<string, string>());

    /// <summary>500 Internal Server Error.</summary>
    public static FakeReply ServerError() => new(500, new JsonObject { ["message"] = "500: Internal Server Error", ["code"] = 0 }, new Dictionary<string, string>());
}

/// <summary>A message the fake holds, with every version it had (the first is as posted).</summary>
public sealed class FakeMessage(string channelId, string id, JsonNode payload)
{
    private readonly List<JsonNode> _versions = [payload];

    public string ChannelId { get; } = channelId;
    public string Id { get; } = id;

    /// <summary>The current payload (after the last edit).</summary>
    public JsonNode Payload { get { lock (_versions) return _versions[^1]; } }

    /// <summary>Every payload, in order: posted, then each edit.</summary>
    public IReadOnlyList<JsonNode> Versions { get { lock (_versions) return [.. _versions]; } }

    internal void Edit(JsonNode payload)
    {
        lock (_versions)
            _versions.Add(payload);
    }
}

/// <summary>A route limited by the fake: Discord's bucket headers on each answer, 429 when the client goes over.</summary>
internal sealed class FakeBucket(string method, string pathContains, int limit, TimeSpan window, TimeProvider time)
{
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _used;

    public string Name { get; } = "bucket-" + Guid.NewGuid().ToString("N")[..8];
    public int Violations;

    public bool Matches(string m, string path) => m == method && path.Contains(pathContains, StringComparison.Ordinal);

    /// <summary>Counts a request: its headers, and whether it went over.</summary>
    public (bool Over, int Remaining, double ResetAfter) Take()
    {
        lock (this)
        {
            var now = time.GetUtcNow();
            if (now - _windowStart >= window)
            {
                _windowStart = now;
                _used = 0;
            }
            var resetAfter = Math.Max(0.001, (_windowStart + window - now).TotalSeconds);
            if (_used >= limit)
            {
                Violations++;
                return (true, 0, resetAfter);
            }
            _used++;
            return (false, limit - _used, resetAfter);
        }
    }
}

/// <summary>The fake's state: messages, threads, reactions, members, commands; ids are increasing snowflakes.</summary>
internal sealed class FakeDiscordState
{
    private long _nextId = 300_000_000_000_000_000;

    public ConcurrentDictionary<string, FakeMessage> Messages { get; } = new();
    public ConcurrentDictionary<string, int> ThreadStarts { get; } = new();
    public ConcurrentDictionary<string, IReadOnlyList<string>> MemberRoles { get; } = new();
    public ConcurrentDictionary<(string Message, string Emoji), List<string>> Reactions { get; } = new();
    public JsonArray? Commands { get; set; }
    public ConcurrentDictionary<string, string> CommandIds { get; } = new();

    public string NextId() => Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);

    public void React(string messageId, string emoji, string userId)
    {
        var users = Reactions.GetOrAdd((messageId, emoji), _ => []);
        lock (users)
            if (!users.Contains(userId))
                users.Add(userId);
    }

    public void Unreact(string messageId, string emoji, string userId)
    {
        if (Reactions.TryGetValue((messageId, emoji), out var users))
            lock (users)
                users.Remove(userId);
    }
}
