using System.Text.Json;
using ChatOps.Core.Conversation;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack;

/// <summary>
/// What both inbound transports (the HTTP endpoints and Socket Mode) do with a payload once it is known to be Slack's:
/// translate it and hand the event to the core's <see cref="IChatInbox"/>. The transport acknowledges Slack only after
/// this returned; when it throws, Slack is left to deliver again.
/// </summary>
public sealed class SlackInbound
{
    private readonly IChatInbox _inbox;
    private readonly string _channelId;
    private readonly ILogger _logger;

    /// <param name="inbox">Where events go (durable; deduplicates on the event id).</param>
    /// <param name="channelId"><c>Slack:ChannelId</c>: commands from any other channel are answered with where to go.</param>
    public SlackInbound(IChatInbox inbox, string channelId, ILogger<SlackInbound> logger)
    {
        ArgumentNullException.ThrowIfNull(inbox);
        ArgumentException.ThrowIfNullOrWhiteSpace(channelId);
        ArgumentNullException.ThrowIfNull(logger);
        _inbox = inbox;
        _channelId = channelId;
        _logger = logger;
    }

    /// <summary>A slash command's fields.</summary>
    internal async Task<InboundOutcome> CommandAsync(IReadOnlyDictionary<string, string> fields, string transport, CancellationToken cancellationToken)
    {
        if (SlackPayloads.Command(fields, out var problem) is not { } command)
        {
            _logger.LogWarning("Slack {Transport}: refused a slash command: {Problem}", transport, problem);
            return new InboundOutcome.Refused(problem!);
        }
        if (command.ChannelId != _channelId)
        {
            _logger.LogInformation("Slack {Transport}: /migrate from {User} in {Channel}, not the bot's channel: told where to go",
                transport, command.UserId, command.ChannelId);
            // Answered in the acknowledgement itself: ephemeral by default, and no extra call that could fail.
            return new InboundOutcome.AnswerCaller($"/migrate works in <#{_channelId}> only: type it there.");
        }
        return await HandOnAsync(command, transport, cancellationToken);
    }

    /// <summary>An Events API envelope (<c>event_callback</c>).</summary>
    internal async Task<InboundOutcome> EventAsync(JsonElement envelope, string transport, CancellationToken cancellationToken)
    {
        if (SlackPayloads.Event(envelope, out var why) is not { } chatEvent)
        {
            _logger.LogDebug("Slack {Transport}: ignored {What}", transport, why);
            return new InboundOutcome.Ignored(why);
        }
        return await HandOnAsync(chatEvent, transport, cancellationToken);
    }

    /// <summary>An interaction payload (<c>block_actions</c> …): the card has no buttons yet, so nothing is handed on.</summary>
    internal InboundOutcome Interaction(JsonElement payload, string transport)
    {
        var type = SlackPayloads.String(payload, "type");
        _logger.LogDebug("Slack {Transport}: ignored interaction {Type}", transport, type);
        return new InboundOutcome.Ignored($"interaction '{type}'");
    }

    private async Task<InboundOutcome> HandOnAsync(ChatEvent chatEvent, string transport, CancellationToken cancellationToken)
    {
        var taken = await _inbox.AcceptAsync(chatEvent, cancellationToken);
        _logger.LogInformation("Slack {Transport}: {Event} {EventId} from {User} {Outcome}", transport, chatEvent.GetType().Name,
            chatEvent.EventId, chatEvent.UserId, taken ? "taken" : "was taken before (redelivery)");
        return new InboundOutcome.Accepted(taken);
    }
}

/// <summary>What a transport answers Slack after <see cref="SlackInbound"/> looked at a payload.</summary>
internal abstract record InboundOutcome
{
    private InboundOutcome()
    {
    }

    /// <summary>Handed to the inbox (<paramref name="New"/> false: it had it already).</summary>
    public sealed record Accepted(bool New) : InboundOutcome;

    /// <summary>Nothing for the core: acknowledged all the same, so Slack does not redeliver it.</summary>
    public sealed record Ignored(string Why) : InboundOutcome;

    /// <summary>Malformed: HTTP 400 (Socket Mode still acknowledges it: a redelivery would be as malformed).</summary>
    public sealed record Refused(string Why) : InboundOutcome;

    /// <summary>The adapter answers the caller itself, privately, in the acknowledgement.</summary>
    public sealed record AnswerCaller(string Text) : InboundOutcome;
}
