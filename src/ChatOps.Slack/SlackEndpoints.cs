using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack;

/// <summary>What the HTTP endpoints need: the verifier for every request and the handler both transports share.</summary>
public sealed record SlackEndpointsContext(SlackRequestVerifier Verifier, SlackInbound Inbound, ILogger Logger);

/// <summary>
/// Slack's HTTP request URLs: <c>POST /slack/commands</c>, <c>/slack/events</c>, <c>/slack/interactions</c>. Each request's
/// raw body is read once and verified before anything is parsed; the event reaches the inbox before Slack gets its 200, and
/// a failing inbox answers 500 so that Slack delivers again.
/// </summary>
public static class SlackEndpoints
{
    /// <summary>Slack's payloads are a few kilobytes; anything far larger is not Slack's.</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    private const string Transport = "HTTP";

    /// <summary>Maps the three endpoints (the host calls this when Slack is enabled without Socket Mode).</summary>
    public static IEndpointRouteBuilder MapSlackEndpoints(this IEndpointRouteBuilder endpoints, SlackEndpointsContext context)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(context);
        endpoints.MapPost("/slack/commands", Handler(http => CommandsAsync(http, context)));
        endpoints.MapPost("/slack/events", Handler(http => EventsAsync(http, context)));
        endpoints.MapPost("/slack/interactions", Handler(http => InteractionsAsync(http, context)));
        return endpoints;
    }

    // A Delegate, not a RequestDelegate: only then is the returned IResult written to the response.
    private static Delegate Handler(Func<HttpContext, Task<IResult>> handle) => handle;

    private static async Task<IResult> CommandsAsync(HttpContext http, SlackEndpointsContext context)
    {
        if (await ReadAsync(http) is not { } body)
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        var fields = Form(body);
        // Slack's certificate check for distributed apps carries no user data and is not signed like the rest.
        if (fields.TryGetValue("ssl_check", out var sslCheck) && sslCheck == "1")
            return Results.Ok();
        if (Unverified(http, body, context) is { } refused)
            return refused;
        return await AnswerAsync(http, context, ct => context.Inbound.CommandAsync(fields, Transport, ct));
    }

    private static async Task<IResult> EventsAsync(HttpContext http, SlackEndpointsContext context)
    {
        if (await ReadAsync(http) is not { } body)
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        if (Unverified(http, body, context) is { } refused)
            return refused;
        if (Json(body) is not { } envelope)
            return Results.BadRequest();
        if (SlackPayloads.String(envelope, "type") == "url_verification")
            return Results.Json(new { challenge = SlackPayloads.String(envelope, "challenge") ?? "" });
        if (http.Request.Headers["X-Slack-Retry-Num"].ToString() is { Length: > 0 } retry)
            context.Logger.LogInformation("Slack HTTP: event {EventId} delivered again (retry {Retry}, {Reason})",
                SlackPayloads.String(envelope, "event_id"), retry, http.Request.Headers["X-Slack-Retry-Reason"].ToString());
        return await AnswerAsync(http, context, ct => context.Inbound.EventAsync(envelope, Transport, ct));
    }

    private static async Task<IResult> InteractionsAsync(HttpContext http, SlackEndpointsContext context)
    {
        if (await ReadAsync(http) is not { } body)
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        if (Unverified(http, body, context) is { } refused)
            return refused;
        if (!Form(body).TryGetValue("payload", out var payload) || Json(Encoding.UTF8.GetBytes(payload)) is not { } json)
            return Results.BadRequest();
        context.Inbound.Interaction(json, Transport);
        return Results.Ok();
    }

    private static async Task<IResult> AnswerAsync(HttpContext http, SlackEndpointsContext context, Func<CancellationToken, Task<InboundOutcome>> handle)
    {
        InboundOutcome outcome;
        try
        {
            outcome = await handle(http.RequestAborted);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
        {
            // Not acknowledged: Slack delivers it again, and the inbox takes it then (or recognises it, if it did take it).
            context.Logger.LogError(ex, "Slack HTTP {Path}: the inbox did not take the event; answering 500 so Slack delivers it again", http.Request.Path);
            return Results.StatusCode(StatusCodes.Status500InternalServerError);
        }
        return outcome switch
        {
            InboundOutcome.Refused => Results.BadRequest(),
            InboundOutcome.AnswerCaller answer => Results.Json(new { response_type = "ephemeral", text = answer.Text }),
            // Empty: the core answers the caller itself (ReplyToUserAsync, through the response_url).
            _ => Results.Ok(),
        };
    }

    private static IResult? Unverified(HttpContext http, byte[] body, SlackEndpointsContext context)
    {
        var problem = context.Verifier.Problem(http.Request.Headers["X-Slack-Request-Timestamp"].ToString(),
            http.Request.Headers["X-Slack-Signature"].ToString(), body);
        if (problem is null)
            return null;
        context.Logger.LogWarning("Slack HTTP {Path}: refused an unverified request from {Remote}: {Problem}",
            http.Request.Path, http.Connection.RemoteIpAddress, problem);
        return Results.Unauthorized();
    }

    // The raw bytes, read once: the signature is over exactly these, before any parsing.
    private static async Task<byte[]?> ReadAsync(HttpContext http)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
            return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static Dictionary<string, string> Form(byte[] body) =>
        QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body)).ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);

    private static JsonElement? Json(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
