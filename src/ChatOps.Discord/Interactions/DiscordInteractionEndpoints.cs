using System.Text.Json;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Interactions;

/// <summary>
/// <c>POST /discord/interactions</c>, Discord's interactions endpoint: verifies every request's signature (401 when it
/// fails: Discord probes with bad ones), answers PING with PONG, and hands <c>/migrate</c> to the core as a
/// <see cref="CommandReceived"/>, answering "deferred, ephemeral" once the inbox has taken it. The core's one answer to
/// the caller then edits that deferred reply (<see cref="DiscordChannel.ReplyToUserAsync"/>).
/// </summary>
public static class DiscordInteractionEndpoints
{
    /// <summary>Where Discord posts interactions (the Developer Portal's "Interactions Endpoint URL" ends with it).</summary>
    public const string Path = "/discord/interactions";

    private const int Ping = 1;
    private const int ApplicationCommand = 2;
    private const int Pong = 1;
    private const int ChannelMessageWithSource = 4;
    private const int DeferredChannelMessageWithSource = 5;
    private const int Ephemeral = 64;
    // An interaction is a few KiB; anything far larger is not Discord.
    private const int MaxBody = 256 * 1024;

    /// <summary>Maps the interactions endpoint.</summary>
    /// <param name="options">Validated options: <see cref="DiscordOptions.PublicKey"/> and <see cref="DiscordOptions.ChannelId"/> are used.</param>
    /// <param name="inbox">Where commands go; the answer to Discord waits for it.</param>
    public static IEndpointConventionBuilder MapDiscordEndpoints(this IEndpointRouteBuilder endpoints, DiscordOptions options, IChatInbox inbox, ILogger logger)
    {
        var signature = new InteractionSignature(options.PublicKey ?? "");
        Func<HttpContext, Task<IResult>> handler = context => HandleAsync(context, signature, options, inbox, logger);
        return endpoints.MapPost(Path, handler);
    }

    private static async Task<IResult> HandleAsync(HttpContext context, InteractionSignature signature, DiscordOptions options, IChatInbox inbox, ILogger logger)
    {
        var cancellationToken = context.RequestAborted;
        var body = await ReadBodyAsync(context.Request, cancellationToken);
        if (body is null ||
            !signature.Verify(context.Request.Headers["X-Signature-Ed25519"], context.Request.Headers["X-Signature-Timestamp"], body))
        {
            logger.LogWarning("Discord interaction refused: missing or invalid signature");
            return Results.Unauthorized();
        }

        JsonElement interaction;
        try
        {
            interaction = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            return Results.BadRequest();
        }
        var type = interaction.TryGetProperty("type", out var t) && t.TryGetInt32(out var n) ? n : 0;
        if (type == Ping)
            return Answer(new JsonObject { ["type"] = Pong });
        if (type != ApplicationCommand)
            return Results.BadRequest();

        var text = interaction.TryGetProperty("data", out var data) ? MigrateCommandLine.FromInteractionData(data) : null;
        if (text is null)
            return Reply("This bot only knows /migrate.");

        var channelId = String(interaction, "channel_id");
        var parentId = interaction.TryGetProperty("channel", out var channel) ? String(channel, "parent_id") : null;
        // A thread on a card belongs to the bot's channel: its commands count as the channel's.
        if (channelId != options.ChannelId && parentId != options.ChannelId)
            return Reply($"/migrate works in <#{options.ChannelId}> only: run it there, where the deployment cards are.");

        var userId = interaction.TryGetProperty("member", out var member) && member.TryGetProperty("user", out var memberUser)
            ? String(memberUser, "id")
            : interaction.TryGetProperty("user", out var user) ? String(user, "id") : null;
        var id = String(interaction, "id");
        var token = String(interaction, "token");
        if (userId is null || id is null || token is null)
            return Results.BadRequest();

        bool accepted;
        try
        {
            accepted = await inbox.AcceptAsync(new CommandReceived(text, userId, options.ChannelId!, id, token), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not taken: Discord shows the caller a failure, and nothing half-done is left behind.
            logger.LogError(e, "Discord interaction {InteractionId} could not be taken by the inbox", id);
            return Results.StatusCode(StatusCodes.Status500InternalServerError);
        }

        logger.LogInformation("Discord /migrate from {UserId} taken (interaction {InteractionId}, new: {Accepted})", userId, id, accepted);
        return accepted
            ? Answer(new JsonObject { ["type"] = DeferredChannelMessageWithSource, ["data"] = new JsonObject { ["flags"] = Ephemeral } })
            : Reply("This command was already received; its answer is on its way.");
    }

    private static IResult Reply(string content) => Answer(new JsonObject
    {
        ["type"] = ChannelMessageWithSource,
        ["data"] = new JsonObject
        {
            ["content"] = content,
            ["flags"] = Ephemeral,
            ["allowed_mentions"] = new JsonObject { ["parse"] = new JsonArray() },
        },
    });

    private static IResult Answer(JsonObject json) => Results.Text(json.ToJsonString(), "application/json");

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // Verified byte for byte: the signature covers the raw body, not a re-serialised one.
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBody)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
