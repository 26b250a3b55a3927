using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Rendering;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord;

/// <summary>
/// <see cref="IChatChannel"/> on Discord: cards as embeds edited in place, chatter in a thread started on the card,
/// the caller's private answer as the interaction's ephemeral reply, the bot's reactions, members' roles. Every call goes
/// through the one <see cref="DiscordRestClient"/>. Call <see cref="InitializeAsync"/> once before use.
/// </summary>
public sealed class DiscordChannel(
    DiscordRestClient rest, DiscordOptions options, RoleHolders holders, MemberRoles roles, TimeProvider time, ILogger<DiscordChannel> logger)
    : IChatChannel
{
    private const int Ephemeral = 64;
    private const int ThreadNameLimit = 100;
    // The longest auto-archive Discord offers (7 days): the 24-hour report must still find its thread open.
    private const int ThreadArchiveMinutes = 10080;
    // An interaction token is good for 15 minutes; after that the answer goes to the channel.
    private static readonly TimeSpan InteractionTokenLife = TimeSpan.FromMinutes(15);

    private readonly ConcurrentDictionary<string, string> _titles = new();
    private readonly ConcurrentDictionary<string, byte> _threads = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _answered = new();
    private string? _botUserId;

    /// <inheritdoc />
    public string BotUserId => _botUserId ?? throw new InvalidOperationException("DiscordChannel.InitializeAsync has not run: the bot's user id is not known yet.");

    /// <summary>Reads the bot's own user (<c>GET /users/@me</c>): its id, and proof that the token works.</summary>
    /// <exception cref="InvalidOperationException">Discord refused the token.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var me = await rest.SendAsync(new DiscordRequest(HttpMethod.Get, "users/@me", "users/@me"), cancellationToken);
            _botUserId = me.GetProperty("id").GetString();
            logger.LogInformation("Discord bot user {BotUserId} ({Name})", _botUserId, me.TryGetProperty("username", out var n) ? n.GetString() : "?");
        }
        catch (DiscordApiException e) when (e.Status == 401)
        {
            throw new InvalidOperationException(
                "Discord refused the bot token (401 Unauthorized): copy a fresh token from the Developer Portal (Bot → Reset Token) into Discord:BotToken (Discord__BotToken).", e);
        }
    }

    /// <inheritdoc />
    public async Task<MessageReference> PostAsync(string channelId, ChatMessage message, CancellationToken cancellationToken)
    {
        var posted = await SendMessageAsync(channelId, message, DiscordMessageRenderer.Render(message, holders), cancellationToken);
        _titles[posted.MessageId] = message.Title;
        return posted;
    }

    /// <inheritdoc />
    public async Task EditAsync(MessageReference posted, ChatMessage message, CancellationToken cancellationToken)
    {
        var payload = DiscordMessageRenderer.Render(message, holders);
        // v10 keeps only the attachments listed: an edit replaces the message, picture included.
        payload["attachments"] ??= new JsonArray();
        await rest.SendAsync(Request(HttpMethod.Patch, "channels/{channel}/messages/{message}",
            $"channels/{posted.ChannelId}/messages/{posted.MessageId}", posted.ChannelId, payload, message.Image), cancellationToken);
        _titles[posted.MessageId] = message.Title;
    }

    /// <inheritdoc />
    public async Task<MessageReference> ReplyInThreadAsync(MessageReference parent, ChatMessage message, CancellationToken cancellationToken)
    {
        // A thread started from a message has the message's id.
        var threadId = parent.MessageId;
        if (!_threads.ContainsKey(threadId))
        {
            var name = DiscordMessageRenderer.Truncate(_titles.GetValueOrDefault(parent.MessageId) ?? message.Title, ThreadNameLimit);
            try
            {
                await rest.SendAsync(DiscordRequest.Json(HttpMethod.Post, "channels/{channel}/messages/{message}/threads",
                    $"channels/{parent.ChannelId}/messages/{parent.MessageId}/threads",
                    new JsonObject { ["name"] = name, ["auto_archive_duration"] = ThreadArchiveMinutes }, parent.ChannelId), cancellationToken);
            }
            catch (DiscordApiException e) when (e.Code == DiscordErrorCodes.ThreadAlreadyCreated)
            {
                // Started before (by another replica, or before a restart): post into it.
            }
            _threads[threadId] = 0;
        }
        return await SendMessageAsync(threadId, message, DiscordMessageRenderer.Render(message, holders), cancellationToken);
    }

    /// <inheritdoc />
    public async Task ReplyToUserAsync(Caller caller, ChatMessage message, CancellationToken cancellationToken)
    {
        var payload = DiscordMessageRenderer.Render(message, holders);
        if (caller.ReplyHandle is { } token && options.ApplicationId is { } app)
        {
            Forget(time.GetUtcNow() - InteractionTokenLife);
            var first = _answered.TryAdd(token, time.GetUtcNow());
            try
            {
                if (first)
                    // The endpoint deferred the reply (ephemeral): this is its content.
                    await rest.SendAsync(Request(HttpMethod.Patch, "webhooks/{application}/{token}/messages/@original",
                        $"webhooks/{app}/{token}/messages/@original", $"{app}/{token}", payload, message.Image), cancellationToken);
                else
                {
                    payload["flags"] = Ephemeral;
                    await rest.SendAsync(Request(HttpMethod.Post, "webhooks/{application}/{token}",
                        $"webhooks/{app}/{token}", $"{app}/{token}", payload, message.Image), cancellationToken);
                }
                return;
            }
            catch (DiscordApiException e) when (e.Code is DiscordErrorCodes.UnknownWebhook or DiscordErrorCodes.UnknownInteraction or DiscordErrorCodes.InvalidWebhookToken)
            {
                logger.LogWarning("Discord interaction token expired (code {Code}): answering {UserId} in the channel instead", e.Code, caller.UserId);
            }
        }

        // No interaction to answer: a channel message that names the caller.
        payload["content"] = DiscordMessageRenderer.Truncate($"<@{caller.UserId}> {payload["content"]?.GetValue<string>()}".TrimEnd(), DiscordMessageRenderer.ContentLimit);
        payload["allowed_mentions"] = new JsonObject { ["parse"] = new JsonArray(), ["users"] = new JsonArray(caller.UserId) };
        await SendMessageAsync(caller.ChannelId, message, payload, cancellationToken);
    }

    /// <inheritdoc />
    public async Task AddReactionAsync(MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken)
    {
        var character = emoji.Character() ?? throw new ArgumentOutOfRangeException(nameof(emoji), emoji, "only the sign-off and rollback emoji have a Discord form");
        // Unicode emoji go URL-encoded in the path; Discord answers 10014 Unknown Emoji to anything else.
        await rest.SendAsync(new DiscordRequest(HttpMethod.Put, "channels/{channel}/messages/{message}/reactions/{emoji}/@me",
            $"channels/{posted.ChannelId}/messages/{posted.MessageId}/reactions/{Uri.EscapeDataString(character)}/@me", posted.ChannelId), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken) => roles.OfAsync(userId, cancellationToken);

    private async Task<MessageReference> SendMessageAsync(string channelId, ChatMessage message, JsonObject payload, CancellationToken cancellationToken)
    {
        var answer = await rest.SendAsync(Request(HttpMethod.Post, "channels/{channel}/messages", $"channels/{channelId}/messages", channelId, payload, message.Image), cancellationToken);
        return new MessageReference(channelId, answer.GetProperty("id").GetString()!);
    }

    /// <summary>JSON, or multipart with <c>payload_json</c> and <c>files[0]</c> when the message has a picture.</summary>
    private static DiscordRequest Request(HttpMethod method, string route, string path, string major, JsonObject payload, MessageImage? image)
    {
        if (image is null)
            return DiscordRequest.Json(method, route, path, payload, major);
        var json = payload.ToJsonString();
        return new DiscordRequest(method, route, path, major)
        {
            Content = () =>
            {
                var form = new MultipartFormDataContent();
                var part = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
                form.Add(part, "payload_json");
                var file = new ReadOnlyMemoryContent(image.Content);
                file.Headers.ContentType = new MediaTypeHeaderValue(MediaType(image.FileName));
                form.Add(file, "files[0]", image.FileName);
                return form;
            },
        };
    }

    private static string MediaType(string fileName) => Path.GetExtension(fileName).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        _ => "application/octet-stream",
    };

    private void Forget(DateTimeOffset before)
    {
        foreach (var (token, at) in _answered)
            if (at < before)
                _answered.TryRemove(token, out _);
    }
}
