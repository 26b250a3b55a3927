using System.Text.Json.Nodes;

namespace ChatOps.Discord.Rest;

/// <summary>
/// One REST call: the method, the route template (what logs and rate-limit keys show: <c>channels/{channel}/messages</c>)
/// and the concrete path relative to the API base. <see cref="Content"/> builds the body afresh for every attempt,
/// because a retried request cannot reuse a sent <see cref="HttpContent"/>.
/// </summary>
/// <param name="MajorParameter">The route's top-level resource (channel, guild or webhook id): Discord limits per it.</param>
public sealed record DiscordRequest(HttpMethod Method, string Route, string Path, string MajorParameter = "")
{
    /// <summary>Builds the body; null for none.</summary>
    public Func<HttpContent>? Content { get; init; }

    /// <summary>A request with a JSON body.</summary>
    public static DiscordRequest Json(HttpMethod method, string route, string path, JsonNode body, string majorParameter = "")
    {
        var text = body.ToJsonString();
        return new(method, route, path, majorParameter)
        {
            Content = () => new StringContent(text, System.Text.Encoding.UTF8, "application/json"),
        };
    }

    /// <summary>What logs and exceptions show: method and template, never an id that is a secret (webhook tokens).</summary>
    public override string ToString() => $"{Method} {Route}";
}
