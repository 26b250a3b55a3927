using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatOps.Slack;

/// <summary>
/// The Slack <see cref="IChatChannel"/>: the core's messages as bot messages with Block Kit (<c>chat.postMessage</c>,
/// <c>chat.update</c>, threads by <c>thread_ts</c>), private replies through the command's <c>response_url</c>, the bot's
/// reactions, and user-group membership for <c>group:</c> role entries. Every call goes through one
/// <see cref="SlackApiClient"/>. Call <see cref="InitializeAsync"/> once before use.
/// </summary>
public sealed class SlackChannel : IChatChannel
{
    private readonly SlackApiClient _api;
    private readonly BlockKitRenderer _renderer;
    private readonly SlackUserGroups _groups;
    private readonly ILogger _logger;
    private string? _botUserId;

    /// <param name="api">The client with the bot token.</param>
    /// <param name="roles">Who holds which role: mentions of a role name its holders and groups; <c>group:</c> entries are the groups looked up.</param>
    public SlackChannel(SlackApiClient api, RoleHolders roles, TimeProvider time, ILogger<SlackChannel> logger)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(roles);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _api = api;
        _renderer = new BlockKitRenderer(roles);
        _groups = new SlackUserGroups(api, roles, time, logger);
        _logger = logger;
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">Before <see cref="InitializeAsync"/>.</exception>
    public string BotUserId => _botUserId ?? throw new InvalidOperationException("SlackChannel.InitializeAsync has not run: the bot's user id is not known yet.");

    /// <summary>
    /// Learns the bot's user id with <c>auth.test</c>. A token Slack refuses stops start-up here as bad configuration (what to
    /// fix, never the token), rather than at the first message.
    /// </summary>
    /// <exception cref="OptionsValidationException">Slack refused the bot token, or it is not a bot's.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        JsonElement answer;
        try
        {
            answer = await _api.CallAsync("auth.test", [], cancellationToken);
        }
        catch (SlackApiException ex) when (ex.Error is "invalid_auth" or "not_authed" or "account_inactive" or "token_revoked" or "token_expired" or "not_allowed_token_type")
        {
            // As a configuration failure: the command line reports it with the other bad settings (exit code 2), not as a crash.
            throw BadToken($"Slack refused {SlackOptions.Section}:BotToken ({ex.Error}): set it (env Slack__BotToken) to the Bot User OAuth Token " +
                           "of the installed app (xoxb-…, under OAuth & Permissions; reinstall the app if the token was revoked).");
        }
        _botUserId = SlackPayloads.String(answer, "user_id")
                     ?? throw BadToken($"Slack's auth.test answered without user_id: set {SlackOptions.Section}:BotToken to the app's bot token (xoxb-…), not a user token.");
        _logger.LogInformation("Slack: connected as bot user {BotUserId} in team {Team}", _botUserId, SlackPayloads.String(answer, "team"));
    }

    private static OptionsValidationException BadToken(string failure) =>
        new(SlackOptions.Section, typeof(SlackOptions), [failure]);

    /// <inheritdoc />
    /// <remarks>The image, if any, is uploaded into the message's thread right after it, so the two stay together.</remarks>
    public async Task<MessageReference> PostAsync(string channelId, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(channelId);
        ArgumentNullException.ThrowIfNull(message);
        var posted = await PostMessageAsync(channelId, threadTs: null, message, cancellationToken);
        await UploadImageAsync(message, posted.ChannelId, posted.MessageId, cancellationToken);
        return posted;
    }

    /// <inheritdoc />
    /// <remarks>Blocks are sent with every edit (text alone would drop them). An image is not uploaded again.</remarks>
    public async Task EditAsync(MessageReference posted, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posted);
        ArgumentNullException.ThrowIfNull(message);
        var rendering = _renderer.Render(message);
        await _api.CallAsync("chat.update", new JsonObject
        {
            ["channel"] = posted.ChannelId,
            ["ts"] = posted.MessageId,
            ["text"] = rendering.Text,
            ["blocks"] = rendering.Blocks,
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<MessageReference> ReplyInThreadAsync(MessageReference parent, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(message);
        var reply = await PostMessageAsync(parent.ChannelId, parent.MessageId, message, cancellationToken);
        await UploadImageAsync(message, parent.ChannelId, parent.MessageId, cancellationToken);
        return reply;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Through the command's <c>response_url</c> (ephemeral) when the caller has one; otherwise — or when it no longer works
    /// (five uses, thirty minutes) — <c>chat.postEphemeral</c>. An image cannot go with an ephemeral message and is left out.
    /// </remarks>
    public async Task ReplyToUserAsync(Caller caller, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(message);
        var rendering = _renderer.Render(message);
        if (Uri.TryCreate(caller.ReplyHandle, UriKind.Absolute, out var responseUrl) && (responseUrl.Scheme == Uri.UriSchemeHttps || responseUrl.Scheme == Uri.UriSchemeHttp))
        {
            var json = new JsonObject { ["response_type"] = "ephemeral", ["text"] = rendering.Text, ["blocks"] = rendering.Blocks.DeepClone() }.ToJsonString();
            try
            {
                await _api.PostToUrlAsync("response_url", responseUrl, () => new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);
                return;
            }
            catch (SlackApiException ex)
            {
                _logger.LogInformation("Slack: the command's response_url refused the reply ({Error}); replying with chat.postEphemeral", ex.Error);
            }
        }
        await _api.CallAsync("chat.postEphemeral", new JsonObject
        {
            ["channel"] = caller.ChannelId,
            ["user"] = caller.UserId,
            ["text"] = rendering.Text,
            ["blocks"] = rendering.Blocks.DeepClone(),
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks><c>already_reacted</c> is success: the reaction is there, which is all that was asked.</remarks>
    public async Task AddReactionAsync(MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posted);
        var name = emoji switch
        {
            ReactionEmoji.SignOff => "white_check_mark",
            ReactionEmoji.Rollback => "rewind",
            _ => throw new ArgumentOutOfRangeException(nameof(emoji), emoji, "the bot reacts only with the sign-off or the rollback emoji"),
        };
        try
        {
            await _api.CallAsync("reactions.add", new JsonObject { ["channel"] = posted.ChannelId, ["timestamp"] = posted.MessageId, ["name"] = name },
                cancellationToken);
        }
        catch (SlackApiException ex) when (ex.Error == "already_reacted")
        {
        }
    }

    /// <inheritdoc />
    /// <remarks>Slack user-group ids (<c>S…</c>, without the <c>group:</c> prefix) among the configured ones.</remarks>
    public Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userId);
        return _groups.GroupsOfAsync(userId, cancellationToken);
    }

    private async Task<MessageReference> PostMessageAsync(string channelId, string? threadTs, ChatMessage message, CancellationToken cancellationToken)
    {
        var rendering = _renderer.Render(message);
        var arguments = new JsonObject { ["channel"] = channelId, ["text"] = rendering.Text, ["blocks"] = rendering.Blocks };
        if (threadTs is not null)
            arguments["thread_ts"] = threadTs;
        var answer = await _api.CallAsync("chat.postMessage", arguments, cancellationToken);
        var ts = SlackPayloads.String(answer, "ts") ?? throw new SlackApiException("chat.postMessage", "invalid_response", "no ts");
        // Slack answers with the channel's id even when it was given by name.
        return new MessageReference(SlackPayloads.String(answer, "channel") ?? channelId, ts);
    }

    // files.getUploadURLExternal → the bytes → files.completeUploadExternal, shared in the thread. The message is already
    // posted: a failed upload is logged, not thrown, so the message is not posted twice when the caller retries.
    private async Task UploadImageAsync(ChatMessage message, string channelId, string threadTs, CancellationToken cancellationToken)
    {
        if (message.Image is not { } image)
            return;
        try
        {
            var ticket = await _api.CallFormAsync("files.getUploadURLExternal", new Dictionary<string, string>
            {
                ["filename"] = image.FileName,
                ["length"] = image.Content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["alt_txt"] = SlackText.Truncate(image.AltText, 1000),
            }, cancellationToken);
            var uploadUrl = SlackPayloads.String(ticket, "upload_url") ?? throw new SlackApiException("files.getUploadURLExternal", "invalid_response", "no upload_url");
            var fileId = SlackPayloads.String(ticket, "file_id") ?? throw new SlackApiException("files.getUploadURLExternal", "invalid_response", "no file_id");
            var bytes = image.Content.ToArray();
            await _api.PostToUrlAsync("file upload", new Uri(uploadUrl), () =>
            {
                var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return content;
            }, cancellationToken);
            await _api.CallFormAsync("files.completeUploadExternal", new Dictionary<string, string>
            {
                ["files"] = new JsonArray(new JsonObject { ["id"] = fileId, ["title"] = image.AltText }).ToJsonString(),
                ["channel_id"] = channelId,
                ["thread_ts"] = threadTs,
            }, cancellationToken);
        }
        catch (SlackApiException ex)
        {
            _logger.LogWarning("Slack: the image {File} could not be shared with message {Ts} ({Error}); the message stands without it",
                image.FileName, threadTs, ex.Error);
        }
    }
}
