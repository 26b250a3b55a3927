using ChatOps.Bot.Hosting;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Rest;
using ChatOps.Postgres.State;
using ChatOps.Slack;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Sends one platform's outbox: in order per channel (only a channel's first unsent message may go, so an edit follows its post
/// and a thread reply its parent), each message by exactly one replica (its row is held while it is sent), marked sent only once
/// the platform confirmed it. A failure is retried with backoff (the adapters wait out 429s themselves); a message that keeps
/// failing is parked — kept, logged and shown on <c>/readyz</c>, never dropped — and its channel goes on.
/// </summary>
public sealed class OutboxDispatcher(string platform, Outbox outbox, IChatChannel channel, TimeProvider time, ILogger<OutboxDispatcher> logger)
{
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>Attempts before a message is parked.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>The first retry's delay; each next one doubles, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Where each platform call's result is reported; nowhere when null.</summary>
    public BotMetrics? Metrics { get; init; }

    public string Platform => platform;

    public void Wake() => _wake.Release();

    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                sent = await DispatchOnceAsync(stopping);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                logger.LogError(ex, "{Platform} outbox could not be read; trying again", platform);
            }
            if (sent > 0)
                continue;
            try
            {
                await _wake.WaitAsync(PollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Sends each channel's first unsent message that is due; returns how many went (or were settled).</summary>
    public async Task<int> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        var done = 0;
        foreach (var head in await outbox.HeadsAsync(platform, cancellationToken))
        {
            if (head.NotBefore > time.GetUtcNow())
                continue;   // backing off: this channel waits, the others go on
            try
            {
                var result = await outbox.SendAsync(head, SendAsync, cancellationToken);
                if (result != OutboxSendResult.Skipped)
                    done++;
                if (result == OutboxSendResult.Parked)
                    logger.LogError("{Platform} message {Id} to {Channel} parked: the message it is about was never posted", platform, head.Id, head.Channel);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var attempts = head.Attempts + 1;
                if (attempts >= MaxAttempts)
                {
                    logger.LogError(ex, "{Platform} message {Id} ({Kind}) to {Channel} parked after {Attempts} attempts", platform, head.Id, head.Kind, head.Channel, attempts);
                    await outbox.FailedAsync(head.Id, ex.Message, null, cancellationToken);
                }
                else
                {
                    var backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(attempts - 1, 20)));
                    logger.LogWarning(ex, "{Platform} message {Id} ({Kind}) to {Channel} failed (attempt {Attempts}); again in {Backoff}", platform, head.Id, head.Kind,
                        head.Channel, attempts, backoff);
                    await outbox.FailedAsync(head.Id, ex.Message, time.GetUtcNow() + backoff, cancellationToken);
                }
                done++;
            }
        }
        return done;
    }

    private async Task<MessageReference?> SendAsync(OutboxMessage message, MessageReference? target, CancellationToken cancellationToken)
    {
        try
        {
            var sent = await CallAsync(message, target, cancellationToken);
            Metrics?.PlatformCall(platform, PlatformCallResult.Ok);
            return sent;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Metrics?.PlatformCall(platform, ex is SlackApiException { Error: "ratelimited" } or DiscordApiException { Status: 429 }
                ? PlatformCallResult.RateLimited
                : PlatformCallResult.Error);
            throw;
        }
    }

    private async Task<MessageReference?> CallAsync(OutboxMessage message, MessageReference? target, CancellationToken cancellationToken)
    {
        switch (message.Kind)
        {
            case OutboxKind.Post:
                return await channel.PostAsync(message.Channel, message.Message!, cancellationToken);
            case OutboxKind.Reply:
                return await channel.ReplyInThreadAsync(target!, message.Message!, cancellationToken);
            case OutboxKind.Edit:
                await channel.EditAsync(target!, message.Message!, cancellationToken);
                return null;
            case OutboxKind.React:
                await channel.AddReactionAsync(target!, message.Emoji!.Value, cancellationToken);
                return null;
            case OutboxKind.Private:
                await channel.ReplyToUserAsync(message.Caller!, message.Message!, cancellationToken);
                return null;
            default:
                throw new InvalidOperationException($"outbox message {message.Id} of unknown kind {message.Kind}");
        }
    }
}
