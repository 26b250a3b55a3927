using System.Text.Json.Nodes;

namespace ChatOps.Testing.FakeSlack;

/// <summary>One request the fake received, whatever it answered.</summary>
/// <param name="Method">The Web API method (<c>chat.postMessage</c>), <c>response_url</c> or <c>file upload</c>.</param>
/// <param name="Arguments">Query, form fields (as strings) and JSON members, merged.</param>
/// <param name="Authorization">The <c>Authorization</c> header as sent, or null.</param>
/// <param name="Answer">What the fake answered: <c>ok</c>, an error code, <c>429</c> or <c>500</c>.</param>
public sealed record FakeSlackCall(string Method, string ContentType, string Body, JsonObject Arguments, string? Authorization, string Answer)
{
    /// <summary>When the fake received it (the wall clock: the bot under test runs in its own process).</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>An argument as text (a JSON member that is not a string as its JSON).</summary>
    public string? Arg(string name) => Arguments[name] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var node => node.ToJsonString(),
    };
}

/// <summary>A message in the fake's channel history, as last posted or updated.</summary>
public sealed record FakeSlackMessage(string Channel, string Ts, string? ThreadTs, string Text, JsonNode? Blocks, int Edits = 0);

/// <summary>A file uploaded through the external-upload flow.</summary>
public sealed record FakeSlackFile(string Id, string FileName, int Length, string? AltText)
{
    public byte[]? Content { get; init; }
    public string? Title { get; init; }
    public string? Channel { get; init; }
    public string? ThreadTs { get; init; }
    public bool Completed { get; init; }
}

/// <summary>A post to a <c>response_url</c> the fake handed out.</summary>
public sealed record FakeSlackResponse(string ResponseId, JsonObject Body);

/// <summary>How the fake answers a scripted call instead of answering it properly.</summary>
public abstract record FakeSlackFailure
{
    private FakeSlackFailure()
    {
    }

    /// <summary>HTTP 429, <c>{"ok":false,"error":"ratelimited"}</c>, with <c>Retry-After: seconds</c>.</summary>
    public sealed record RateLimited(int RetryAfterSeconds) : FakeSlackFailure;

    /// <summary>HTTP 200 with <c>{"ok":false,"error":code}</c>.</summary>
    public sealed record Error(string Code) : FakeSlackFailure;

    /// <summary>An HTTP 5xx without a body Slack would write.</summary>
    public sealed record ServerError(int Status = 500) : FakeSlackFailure;
}
