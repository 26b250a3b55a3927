using System.Globalization;
using System.Net;
using System.Text;
using ChatOps.Testing.FakeSlack;

namespace ChatOps.Benchmarks;

/// <summary>
/// Slack's Events API and slash commands through the real host: <c>chatops serve</c> on 127.0.0.1 against the fake Slack, signed
/// requests from concurrent senders, a share of them delivered again with <c>X-Slack-Retry-Num</c> as Slack does when it did not see
/// the 200 in time. Each reaction comes from a different person who holds none of the four roles, on a card waiting for sign-offs, so
/// each distinct event leaves exactly one audit line; each <c>/migrate help</c> is answered once through its own <c>response_url</c>.
/// Meanwhile another deployment runs, its thread posting a line per statement.
/// </summary>
public sealed class SlackInboundBenchmark(InboundSettings settings, TextWriter output)
{
    public const string Section = "slack";
    private const string Secret = "bench-signing-secret";
    private const string Channel = "C0OPS";
    private const string Requester = "UREQ";
    private static readonly string[] Signers = ["UDAN", "USAM", "UOLGA", "UPETE"];

    /// <summary>One request of the load: an original or a redelivery of one (<see cref="Retry"/> set).</summary>
    private sealed record LoadRequest(string Path, string Body, string ContentType, int? Retry);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        var machine = MachineNote.Now();
        await using var rig = await InboundRig.StartAsync("Slack", settings, cancellationToken);
        output.WriteLine($"PostgreSQL: {rig.Server}");
        await using var slack = await FakeSlackServer.StartAsync(cancellationToken);
        await using var serve = await ServeProcess.StartAsync(rig.Environment(Requester, Signers,
            ("Slack__BotToken", FakeSlackServer.BotToken), ("Slack__SigningSecret", Secret), ("Slack__ChannelId", Channel),
            ("Slack__ApiBaseUrl", slack.ApiBaseUrl.AbsoluteUri)), time, cancellationToken);
        output.WriteLine($"chatops serve on {serve.Url} (logs: {serve.LogPath})");
        var ledger = new StateLedger(rig.Ledger);
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { Timeout = TimeSpan.FromMinutes(1) };

        async Task<HttpStatusCode> PostAsync(LoadRequest request, CancellationToken ct)
        {
            using var signed = SlackRequests.Signed(new Uri(serve.Url, request.Path), request.Body, request.ContentType, Secret, retryNum: request.Retry);
            using var answer = await http.SendAsync(signed, ct);
            return answer.StatusCode;
        }
        async Task<FakeSlackMessage> CommandAsync(string text, string user, string card, CancellationToken ct)
        {
            var status = await PostAsync(new LoadRequest("slack/commands", SlackRequests.Form(SlackRequests.SlashCommand(text, user, Channel, $"trig-setup-{card}",
                slack.ResponseUrl($"setup-{card}"))), "application/x-www-form-urlencoded", null), ct);
            if (status != HttpStatusCode.OK)
                throw new InvalidOperationException($"/migrate {text} was answered {(int)status}:\n{serve.Tail}");
            return await Until.FoundAsync(() => slack.Messages.FirstOrDefault(m => m.ThreadTs is null && m.Text.Contains(card, StringComparison.Ordinal)),
                $"the card of {card}", serve, time, ct);
        }

        // The deployment that runs during the load: started, signed by the four roles, its statements under way.
        var running = await CommandAsync($"start {InboundRig.Running}", Requester, "D-1", cancellationToken);
        var waiting = await CommandAsync($"start {InboundRig.Waiting}", Requester, "D-2", cancellationToken);
        var n = 0;
        foreach (var signer in Signers)
            await PostAsync(new LoadRequest("slack/events", SlackRequests.Reaction($"EvSign{++n}", signer, Channel, running.Ts, "white_check_mark").ToJsonString(),
                "application/json", null), cancellationToken);
        await Until.FoundAsync(() => slack.Messages.FirstOrDefault(m => m.ThreadTs == running.Ts && m.Text.StartsWith("✓ #1 ", StringComparison.Ordinal)),
            "D-1's first statement in its thread", serve, time, cancellationToken);
        output.WriteLine($"D-1 ({InboundRig.Running}, {rig.RunningStatements} statements of pg_sleep) is running; D-2 ({InboundRig.Waiting}) waits for sign-offs");

        var (requests, reactionIds, commandIds) = Load(waiting.Ts, slack);
        var redelivered = requests.Count(r => r.Retry is not null);
        output.WriteLine($"load: {settings.Reactions:N0} reaction_added + {settings.Commands:N0} slash commands, {redelivered} delivered again, " +
                         $"{settings.Senders} senders");
        var threadBefore = slack.Messages.Count(m => m.ThreadTs == running.Ts);
        var cpuBefore = serve.CpuTime();
        var began = time.GetTimestamp();
        var acks = await Senders.RunAsync(requests, settings.Senders, PostAsync, time, cancellationToken);
        var sendingTook = time.GetElapsedTime(began);
        var allIds = reactionIds.Concat(commandIds).ToList();
        await Until.TrueAsync(async ct => (await ledger.InboxAsync("Slack", allIds, ct)).Handled == allIds.Count
                                         && commandIds.All(id => slack.Responses.Any(r => r.ResponseId == id)),
            "every event handled and every command answered", settings.Smoke ? TimeSpan.FromMinutes(2) : TimeSpan.FromMinutes(10), serve, time, cancellationToken);
        var handlingTook = time.GetElapsedTime(began);
        var cpu = serve.CpuTime() - cpuBefore;
        var runningState = await ledger.StateOfAsync(1, cancellationToken);
        var threadLines = slack.Messages.Count(m => m.ThreadTs == running.Ts) - threadBefore;
        // Late duplicates would come now, if any were on their way.
        await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);

        var inbox = await ledger.InboxAsync("Slack", allIds, cancellationToken);
        var audit = await ledger.AuditAsync(2, reactionIds.Select(UserOf).ToList(), cancellationToken);
        var answers = slack.Responses.Where(r => r.ResponseId.StartsWith("load-", StringComparison.Ordinal)).GroupBy(r => r.ResponseId).ToDictionary(g => g.Key, g => g.Count());
        var commandsTwice = answers.Count(a => a.Value > 1);
        var commandsLost = commandIds.Count(id => !answers.ContainsKey(id));
        var outbox = await ledger.OutboxAsync("Slack", cancellationToken);
        var exit = await serve.StopAsync(cancellationToken);

        var all = Latency.Of(acks.Select(a => a.LatencyMs));
        // The slash commands on their own (first deliveries): Slack's 3 s limit is theirs, and they are a tenth of the load.
        var commands = Latency.Of(acks.Where((_, i) => requests[i].Retry is null && requests[i].Path == "slack/commands").Select(a => a.LatencyMs));
        var result = new SlackResult(machine, rig.Server, settings, redelivered, all, commands,
            Latency.Of(acks.Where((_, i) => requests[i].Retry is not null).Select(a => a.LatencyMs)),
            acks.Count(a => a.Status != HttpStatusCode.OK), sendingTook, handlingTook, inbox, audit, commandsTwice, commandsLost,
            runningState, threadLines, outbox, cpu, exit);
        var report = result.Markdown();
        output.WriteLine();
        output.WriteLine(report);
        if (settings.WritesResults)
        {
            await ResultsFile.WriteSectionAsync(Section, report);
            output.WriteLine($"written to {ResultsFile.Path}");
        }
        // Correctness only: slowness is reported, never failed on.
        return result.Twice == 0 && result.Lost == 0 ? 0 : 1;
    }

    /// <summary>
    /// The load, shuffled: a reaction by a different non-role person per event, a <c>/migrate help</c> per command with its own
    /// response_url, and the redeliveries, each a little after its original (Slack retries when it did not see the 200).
    /// </summary>
    private (List<LoadRequest> Requests, List<string> ReactionIds, List<string> CommandIds) Load(string cardTs, FakeSlackServer slack)
    {
        var random = new Random(15);
        var originals = new List<LoadRequest>();
        var reactionIds = new List<string>();
        var commandIds = new List<string>();
        for (var i = 1; i <= settings.Reactions; i++)
        {
            var id = $"EvLoad{i:D5}";
            reactionIds.Add(id);
            originals.Add(new LoadRequest("slack/events", SlackRequests.Reaction(id, UserOf(id), Channel, cardTs, "white_check_mark").ToJsonString(),
                "application/json", null));
        }
        for (var i = 1; i <= settings.Commands; i++)
        {
            var id = $"load-{i:D4}";
            commandIds.Add(id);
            originals.Add(new LoadRequest("slack/commands", SlackRequests.Form(SlackRequests.SlashCommand("help", $"UC{i:D4}", Channel, id, slack.ResponseUrl(id))),
                "application/x-www-form-urlencoded", null));
        }
        var shuffled = originals.OrderBy(_ => random.Next()).ToList();
        var placed = shuffled.Select((r, i) => (Key: (double)i, Request: r)).ToList();
        foreach (var (original, i) in shuffled.Select((r, i) => (r, i)).OrderBy(_ => random.Next()).Take((int)Math.Round(shuffled.Count * settings.RedeliveredShare)))
            placed.Add((i + random.Next(1, 4 * settings.Senders) + 0.5, original with { Retry = 1 }));
        return ([.. placed.OrderBy(p => p.Key).Select(p => p.Request)], reactionIds, commandIds);
    }

    // The person behind a reaction event: one per event, none of them a role holder.
    private static string UserOf(string reactionId) => "UL" + reactionId["EvLoad".Length..];
}

/// <summary>What the Slack run measured, and its Markdown.</summary>
internal sealed record SlackResult(MachineNote Machine, string Server, InboundSettings Settings, int Redelivered, Latency Ack, Latency AckCommands, Latency AckRedelivered, int NotOk,
    TimeSpan SendingTook, TimeSpan HandlingTook, InboxTally Inbox, AuditTally Audit, int CommandsTwice, int CommandsLost, string? RunningState, int ThreadLines,
    (long Sent, long Waiting, long Parked) Outbox, TimeSpan? ServeCpu, int ServeExit)
{
    public int Twice => Audit.Twice + CommandsTwice + Inbox.ExtraRows;
    public int Lost => Audit.Missing + CommandsLost + (Inbox.Expected - Inbox.Handled);

    public string Markdown()
    {
        var requests = Settings.Reactions + Settings.Commands + Redelivered;
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"## Slack inbound: acknowledgement, throughput, handled once (`--slack{(Settings.Smoke ? " --smoke" : "")}`)");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"- date: {Machine.Date}; {Machine.Describe}; server: {Server}");
        s.AppendLine(CultureInfo.InvariantCulture, $"- `chatops serve` (Release build, production defaults, Information logs to a file) on 127.0.0.1, the Events API and slash commands over HTTP, every request signed (HMAC-SHA256); the fake Slack and the senders in the benchmark's process, PostgreSQL beside them: all on the same {Machine.Cores} cores");
        s.AppendLine(CultureInfo.InvariantCulture, $"- load: {Settings.Reactions:N0} `reaction_added` (✅ on a card waiting for sign-offs, each by a different person holding none of the four roles) and {Settings.Commands:N0} `/migrate help` (each with its own `response_url`), shuffled, from {Settings.Senders} concurrent senders (each sends its next request when its previous one is answered); {Redelivered} of them ({Settings.RedeliveredShare:P0}) sent again with `X-Slack-Retry-Num: 1` shortly after the original (Slack itself retries only Events API callbacks; a repeated command carries the same `trigger_id`, the inbox's key for it) — {requests:N0} requests");
        s.AppendLine(CultureInfo.InvariantCulture, $"- meanwhile: D-1 (approved by the four roles) runs `SELECT pg_sleep({InboundRig.StatementSleep.TotalSeconds:0.0#})` statements, one thread line each: {ThreadLines} thread lines posted while the load was sent and handled; D-1 was `{RunningState}` when the last event was handled");
        s.AppendLine();
        s.AppendLine("| measure | value | target |");
        s.AppendLine("|---|---|---|");
        s.AppendLine(CultureInfo.InvariantCulture, $"| acknowledgement p50 / p99 / max (all {Ack.Count:N0} requests) | {Ack.P50:0.0} / {Ack.P99:0.0} / {Ack.Max:0.0} ms | p99 ≤ 100 ms (Slack's limit 3 s): {(Ack.P99 <= 100 ? "met" : "**not met**")} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| acknowledgement p50 / p99 / max (the {AckCommands.Count:N0} slash commands) | {AckCommands.P50:0.0} / {AckCommands.P99:0.0} / {AckCommands.Max:0.0} ms | ≤ 3 s (Slack's limit for a command): {(AckCommands.Max <= 3000 ? "met" : "**not met**")} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| acknowledgement p50 / p99 / max (the {AckRedelivered.Count} redeliveries) | {AckRedelivered.P50:0.0} / {AckRedelivered.P99:0.0} / {AckRedelivered.Max:0.0} ms | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| answers other than 200 | {NotOk} | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| requests acknowledged per second (all sent in {SendingTook.TotalSeconds:0.00} s) | {requests / SendingTook.TotalSeconds:0} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| events handled per second (first taken → last handled, state database clock; {Inbox.Handled:N0} events, all handled {HandlingTook.TotalSeconds:0.00} s after the first request) | {Inbox.HandledPerSecond:0} | ≥ 500: {(Inbox.HandledPerSecond >= 500 ? "met" : "**not met**")} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| handled twice (audit lines > 1, answers > 1, extra inbox rows) | **{Twice}** ({Audit.Twice} + {CommandsTwice} + {Inbox.ExtraRows}) | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| lost (no audit line, no answer, not handled) | **{Lost}** ({Audit.Missing} + {CommandsLost} + {Inbox.Expected - Inbox.Handled}) | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| `serve`'s CPU during the load | {(ServeCpu is { } cpu ? $"{cpu.TotalSeconds:0.0} s in {HandlingTook.TotalSeconds:0.0} s ({cpu / HandlingTook:0.00} cores)" : "—")} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| Slack outbox at the end: sent / waiting / parked | {Outbox.Sent:N0} / {Outbox.Waiting:N0} / {Outbox.Parked:N0} | |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Audit line of a reaction, as written: \"{Audit.Sample}\". `serve` exited {ServeExit} on SIGTERM (D-1 let go mid-run).");
        return s.ToString();
    }
}
