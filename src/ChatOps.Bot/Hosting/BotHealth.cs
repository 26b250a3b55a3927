using ChatOps.Bot.Conversation;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Hosting;

/// <summary><c>/healthz</c> (alive), <c>/readyz</c> (state database reachable, schema current, outbox not stuck), with reasons in the body.</summary>
public static class BotHealth
{
    /// <summary>How old the oldest unsent message may be before the bot is not ready.</summary>
    public static readonly TimeSpan OutboxStuckAfter = TimeSpan.FromMinutes(5);

    /// <param name="platformProblems">Why the platforms' long-lived connections are not up (none held, one down), for <c>/readyz</c>.</param>
    /// <param name="platformDegraded">Why one is up but impaired (the Discord Gateway reconnecting): <c>/readyz</c> stays 200 and says it.</param>
    public static void MapBotHealth(this WebApplication app, ChatOpsBot bot, BotSettings settings,
        Func<CancellationToken, Task<IReadOnlyList<string>>>? platformProblems = null, Func<IReadOnlyList<string>>? platformDegraded = null)
    {
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", platforms = settings.Platforms }));
        app.MapGet("/readyz", async (CancellationToken cancellationToken) =>
        {
            var (ready, reasons) = await ReadinessAsync(bot, cancellationToken, platformProblems);
            var degraded = ready ? platformDegraded?.Invoke() ?? [] : [];
            var status = !ready ? "not ready" : degraded.Count > 0 ? "ready, degraded" : "ready";
            return Results.Json(new { status, reasons, degraded }, statusCode: ready ? 200 : 503);
        });
    }

    /// <summary>Whether the bot can do its job, and every reason it cannot.</summary>
    public static async Task<(bool Ready, IReadOnlyList<string> Reasons)> ReadinessAsync(ChatOpsBot bot, CancellationToken cancellationToken,
        Func<CancellationToken, Task<IReadOnlyList<string>>>? platformProblems = null)
    {
        var reasons = new List<string>();
        try
        {
            var version = await StateDatabase.VersionAsync(bot.Parts.State, cancellationToken);
            if (version != StateDatabase.CurrentVersion)
                reasons.Add($"state schema is at version {version}, this build needs {StateDatabase.CurrentVersion}");
            var depth = await bot.Outbox.DepthAsync(cancellationToken);
            if (depth.Parked > 0)
                reasons.Add($"{depth.Parked} outbox message(s) parked after repeated failures (last: {depth.LastParkedError})");
            if (depth.OldestPending is { } oldest && bot.Parts.Time.GetUtcNow() - oldest > OutboxStuckAfter)
                reasons.Add($"the oldest unsent message has waited since {oldest:HH:mm:ss}Z");
            if (platformProblems is not null)
                reasons.AddRange(await platformProblems(cancellationToken));
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException)
        {
            reasons.Add($"state database unreachable: {ex.Message}");
        }
        return (reasons.Count == 0, reasons);
    }
}
