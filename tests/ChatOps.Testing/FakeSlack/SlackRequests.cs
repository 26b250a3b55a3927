using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatOps.Testing.FakeSlack;

/// <summary>
/// Requests to the bot's Slack endpoints as Slack sends them: signed with the signing secret over the exact body
/// (<c>v0=</c> + hex HMAC-SHA256 of <c>v0:{timestamp}:{body}</c>), written here independently of the adapter's verifier.
/// </summary>
public static class SlackRequests
{
    /// <summary>A signed POST of <paramref name="body"/> (<paramref name="contentType"/>) to <paramref name="url"/>.</summary>
    /// <param name="timestamp">When Slack "sent" it (default now); an old or future one tests the replay window.</param>
    /// <param name="retryNum">Sets <c>X-Slack-Retry-Num</c> (and a retry reason), as on a redelivery.</param>
    public static HttpRequestMessage Signed(Uri url, string body, string contentType, string signingSecret, DateTimeOffset? timestamp = null, int? retryNum = null)
    {
        var seconds = (timestamp ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, contentType) };
        request.Headers.Add("X-Slack-Request-Timestamp", seconds);
        request.Headers.Add("X-Slack-Signature", Signature(signingSecret, seconds, body));
        if (retryNum is { } retry)
        {
            request.Headers.Add("X-Slack-Retry-Num", retry.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("X-Slack-Retry-Reason", "http_timeout");
        }
        return request;
    }

    /// <summary>The <c>X-Slack-Signature</c> for <paramref name="body"/> sent at <paramref name="timestamp"/> (Unix seconds).</summary>
    public static string Signature(string signingSecret, string timestamp, string body) =>
        "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingSecret), Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));

    /// <summary>A slash command's fields as Slack sends them (form over HTTP, an object over Socket Mode).</summary>
    public static IReadOnlyDictionary<string, string> SlashCommand(string text, string userId, string channelId, string triggerId, Uri? responseUrl) =>
        new Dictionary<string, string>
        {
            ["token"] = "deprecated-verification-token",
            ["team_id"] = "TFAKE",
            ["team_domain"] = "fake",
            ["channel_id"] = channelId,
            ["channel_name"] = "ops",
            ["user_id"] = userId,
            ["user_name"] = userId.ToLowerInvariant(),
            ["command"] = "/migrate",
            ["text"] = text,
            ["api_app_id"] = "AFAKE",
            ["is_enterprise_install"] = "false",
            ["response_url"] = responseUrl?.AbsoluteUri ?? "",
            ["trigger_id"] = triggerId,
        };

    /// <summary>Form encoding as Slack writes it (spaces as <c>+</c>), for slash commands and interactions.</summary>
    public static string Form(IReadOnlyDictionary<string, string> fields) =>
        string.Join('&', fields.Select(f => System.Net.WebUtility.UrlEncode(f.Key) + "=" + System.Net.WebUtility.UrlEncode(f.Value)));

    /// <summary>The fields as a JSON object, as Socket Mode carries a slash command.</summary>
    public static JsonObject AsJson(IReadOnlyDictionary<string, string> fields)
    {
        var json = new JsonObject();
        foreach (var (name, value) in fields)
            json[name] = value;
        return json;
    }

    /// <summary>An Events API <c>event_callback</c> with a <c>reaction_added</c> or <c>reaction_removed</c> event.</summary>
    public static JsonObject Reaction(string eventId, string userId, string channelId, string ts, string reaction, bool removed = false, string itemType = "message") =>
        new()
        {
            ["token"] = "deprecated-verification-token",
            ["team_id"] = "TFAKE",
            ["api_app_id"] = "AFAKE",
            ["type"] = "event_callback",
            ["event_id"] = eventId,
            ["event_time"] = 1700000000,
            ["event"] = new JsonObject
            {
                ["type"] = removed ? "reaction_removed" : "reaction_added",
                ["user"] = userId,
                ["reaction"] = reaction,
                ["item_user"] = "UBOT",
                ["item"] = itemType == "message"
                    ? new JsonObject { ["type"] = "message", ["channel"] = channelId, ["ts"] = ts }
                    : new JsonObject { ["type"] = itemType, ["file"] = "F0001" },
                ["event_ts"] = "1700000001.000100",
            },
        };
}
