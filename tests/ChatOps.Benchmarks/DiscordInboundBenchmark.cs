using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatOps.Discord.Interactions;
using ChatOps.Testing.FakeDiscord;
using NSec.Cryptography;

namespace ChatOps.Benchmarks;

/// <summary>
/// Discord through the real host: <c>chatops serve</c> on 127.0.0.1 against the fake Discord. Signed <c>/migrate help</c> interactions
/// (Ed25519, a test key) from concurrent senders, each answered once by editing its deferred reply, while reaction dispatches are pushed
/// over the fake Gateway — each by a different person who holds none of the four roles, on a card waiting for sign-offs, so each leaves
/// exactly one audit line — with one forced RESUME half-way (the fake replays what the bot had not seen). Meanwhile another deployment
/// runs, its thread posting a line per statement.
/// </summary>
public sealed partial class DiscordInboundBenchmark(InboundSettings settings, TextWriter output)
{
    public const string Section = "discord";
    private const string Guild = "200000000000000001";
    private const string Channel = "200000000000000002";
    private const string Requester = "300";
    private static readonly string[] Signers = ["301", "302", "303", "304"];

    /// <summary>One signed interaction: its id (its token is derived from it) and body.</summary>
    private sealed record Interaction(string Id, string Body);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        var machine = MachineNote.Now();
        await using var rig = await InboundRig.StartAsync("Discord", settings, cancellationToken);
        output.WriteLine($"PostgreSQL: {rig.Server}");
        await using var discord = await FakeDiscordServer.StartAsync(cancellationToken: cancellationToken);
        // Discord's own interval: the fake's short test default would have a bot busy with 2,000 dispatches miss an ACK and reconnect.
        discord.Gateway.HeartbeatIntervalMs = 41_250;
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var publicKey = Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        await using var serve = await ServeProcess.StartAsync(rig.Environment(Requester, Signers,
            ("Discord__BotToken", discord.BotToken), ("Discord__ApplicationId", discord.ApplicationId), ("Discord__GuildId", Guild),
            ("Discord__ChannelId", Channel), ("Discord__ApiBaseUrl", discord.ApiBaseUrl), ("Discord__PublicKey", publicKey)), time, cancellationToken);
        output.WriteLine($"chatops serve on {serve.Url} (logs: {serve.LogPath})");
        await Until.TrueAsync(_ => Task.FromResult(discord.Gateway.HasReadyClient), "the Gateway to be ready", TimeSpan.FromMinutes(1), serve, time,
            cancellationToken);
        var ledger = new StateLedger(rig.Ledger);
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { Timeout = TimeSpan.FromMinutes(1) };

        async Task<HttpStatusCode> InteractAsync(Interaction interaction, CancellationToken ct)
        {
            using var request = Signed(new Uri(serve.Url, "discord/interactions"), interaction.Body, key, time);
            using var answer = await http.SendAsync(request, ct);
            return answer.StatusCode;
        }
        async Task<FakeMessage> StartAsync(string migration, string id, string card, CancellationToken ct)
        {
            var status = await InteractAsync(new Interaction(id, Command(id, Requester, "start", new JsonObject { ["name"] = "migration", ["type"] = 3, ["value"] = migration })), ct);
            if (status != HttpStatusCode.OK)
                throw new InvalidOperationException($"/migrate start {migration} was answered {(int)status}:\n{serve.Tail}");
            return await Until.FoundAsync(() => discord.MessagesIn(Channel).FirstOrDefault(m => m.Payload.ToJsonString().Contains(card, StringComparison.Ordinal)),
                $"the card of {card}", serve, time, ct);
        }

        // The deployment that runs during the load: started, signed by the four roles over the Gateway, its statements under way.
        var running = await StartAsync(InboundRig.Running, "900000000000000001", "D-1", cancellationToken);
        var waiting = await StartAsync(InboundRig.Waiting, "900000000000000002", "D-2", cancellationToken);
        foreach (var signer in Signers)
            await discord.Gateway.DispatchAsync("MESSAGE_REACTION_ADD", FakeGateway.ReactionAdd(Guild, Channel, running.Id, signer, "✅"));
        await Until.FoundAsync(() => discord.MessagesIn(running.Id).FirstOrDefault(m => m.Payload.ToJsonString().Contains("#1 line", StringComparison.Ordinal)),
            "D-1's first statement in its thread", serve, time, cancellationToken);
        output.WriteLine($"D-1 ({InboundRig.Running}, {rig.RunningStatements} statements of pg_sleep) is running; D-2 ({InboundRig.Waiting}) waits for sign-offs");

        var interactions = Enumerable.Range(1, settings.Commands).Select(i => $"95{i:D16}").Select(id => new Interaction(id, Command(id, $"60{id[2..]}", "help"))).ToList();
        var verification = VerificationCost(interactions[0].Body, key, publicKey, time);
        output.WriteLine($"Ed25519 verification: {verification.TotalMicroseconds:0.0} µs a request (in-process, {VerificationRounds:N0} rounds)");
        output.WriteLine($"load: {settings.Commands:N0} interactions from {settings.Senders} senders, {settings.Reactions:N0} dispatches over the Gateway");

        var threadBefore = discord.MessagesIn(running.Id).Count;
        var cpuBefore = serve.CpuTime();
        var session = discord.Gateway.CurrentSessionId!;
        var began = time.GetTimestamp();
        var pushing = Task.Run(() => PushAsync(discord.Gateway, waiting.Id, time, cancellationToken), cancellationToken);
        var acks = await Senders.RunAsync(interactions, settings.Senders, InteractAsync, time, cancellationToken);
        var interactionsTook = time.GetElapsedTime(began);
        foreach (var (label, part) in new[] { ("first 100 sent", acks.Take(100)), ("the rest", acks.Skip(100)) })
            output.WriteLine($"acknowledgement, {label}: p50 {Latency.Of(part.Select(a => a.LatencyMs)).P50:0.0} ms, p99 {Latency.Of(part.Select(a => a.LatencyMs)).P99:0.0} ms");
        var (sequences, pushTook) = await pushing;
        var dispatchIds = sequences.Select(s => $"{session}:{s}").ToList();
        var interactionIds = interactions.Select(i => i.Id).ToList();
        var answered = () => Answers(discord.Requests);
        await Until.TrueAsync(async ct => (await ledger.InboxAsync("Discord", [.. dispatchIds, .. interactionIds], ct)).Handled == dispatchIds.Count + interactionIds.Count
                                                              && answered().Count >= interactionIds.Count,
            "every event handled and every interaction answered", settings.Smoke ? TimeSpan.FromMinutes(2) : TimeSpan.FromMinutes(10), serve, time, cancellationToken);
        var handlingTook = time.GetElapsedTime(began);
        var cpu = serve.CpuTime() - cpuBefore;
        var runningState = await ledger.StateOfAsync(1, cancellationToken);
        var threadLines = discord.MessagesIn(running.Id).Count - threadBefore;
        await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);

        var dispatches = await ledger.InboxAsync("Discord", dispatchIds, cancellationToken);
        var commands = await ledger.InboxAsync("Discord", interactionIds, cancellationToken);
        var audit = await ledger.AuditAsync(2, Enumerable.Range(1, settings.Reactions).Select(ReactorOf).ToList(), cancellationToken);
        var answers = answered();
        var outbox = await ledger.OutboxAsync("Discord", cancellationToken);
        var handshakes = discord.Gateway.Handshakes.Select(h => h.Kind).ToList();
        var exit = await serve.StopAsync(cancellationToken);

        var result = new DiscordResult(machine, rig.Server, settings, Latency.Of(acks.Select(a => a.LatencyMs)), acks.Count(a => a.Status != HttpStatusCode.OK),
            verification, interactionsTook, pushTook, handlingTook, dispatches, commands, audit,
            answers.Count(a => a.Value > 1), interactionIds.Count(id => !answers.ContainsKey(TokenOf(id))),
            handshakes.Count(h => h == "IDENTIFY"), handshakes.Count(h => h == "RESUME"), runningState, threadLines, outbox, cpu, exit);
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
    /// Pushes the reaction dispatches as fast as the fake's socket takes them; half-way, closes the connection with 4000 so the bot
    /// resumes and the fake replays what it missed. Returns each dispatch's sequence number (its event id is session:sequence).
    /// </summary>
    private async Task<(List<long> Sequences, TimeSpan Took)> PushAsync(FakeGateway gateway, string cardId, TimeProvider time, CancellationToken cancellationToken)
    {
        var sequences = new List<long>();
        var began = time.GetTimestamp();
        for (var i = 1; i <= settings.Reactions; i++)
        {
            if (i == settings.Reactions / 2)
                await gateway.CloseAsync(4000);
            var reaction = FakeGateway.ReactionAdd(Guild, Channel, cardId, ReactorOf(i), "✅");
            while (true)
            {
                try
                {
                    sequences.Add(await gateway.DispatchAsync("MESSAGE_REACTION_ADD", reaction));
                    break;
                }
                catch (InvalidOperationException)
                {
                    // The bot has reconnected but not resumed yet: no session on the new connection for a moment.
                    await Task.Delay(TimeSpan.FromMilliseconds(5), time, cancellationToken);
                }
            }
        }
        return (sequences, time.GetElapsedTime(began));
    }

    private const int VerificationRounds = 5_000;

    /// <summary>What checking one request's signature costs the bot: <see cref="InteractionSignature.Verify"/> on a real request, in this process.</summary>
    private static TimeSpan VerificationCost(string body, Key key, string publicKey, TimeProvider time)
    {
        var signature = new InteractionSignature(publicKey);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signed = Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body)));
        var bytes = Encoding.UTF8.GetBytes(body);
        for (var i = 0; i < 500; i++)
            signature.Verify(signed, timestamp, bytes);
        var began = time.GetTimestamp();
        for (var i = 0; i < VerificationRounds; i++)
            if (!signature.Verify(signed, timestamp, bytes))
                throw new InvalidOperationException("a correctly signed request did not verify");
        return time.GetElapsedTime(began) / VerificationRounds;
    }

    // The person behind the i-th dispatch: one per dispatch, none of them a role holder.
    private static string ReactorOf(int i) => $"70{i:D16}";

    private static string TokenOf(string interactionId) => "interaction-token-" + interactionId;

    /// <summary>Answers to the load's interactions at the fake (edits of the deferred reply and follow-ups), by interaction token.</summary>
    private static Dictionary<string, int> Answers(IReadOnlyList<RecordedRequest> requests) =>
        requests.Select(r => WebhookToken().Match(r.Path)).Where(m => m.Success && m.Groups[1].Value.StartsWith("interaction-token-95", StringComparison.Ordinal))
            .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Count());

    [GeneratedRegex("webhooks/[^/]+/([^/?]+)")]
    private static partial Regex WebhookToken();

    private static HttpRequestMessage Signed(Uri url, string body, Key key, TimeProvider time)
    {
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Signature-Timestamp", timestamp);
        request.Headers.Add("X-Signature-Ed25519", Convert.ToHexStringLower(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(timestamp + body))));
        return request;
    }

    private static string Command(string id, string userId, string subCommand, params JsonObject[] options) => new JsonObject
    {
        ["id"] = id, ["application_id"] = "100000000000000002", ["type"] = 2, ["token"] = TokenOf(id),
        ["channel_id"] = Channel, ["guild_id"] = Guild, ["version"] = 1,
        ["member"] = new JsonObject { ["user"] = new JsonObject { ["id"] = userId, ["username"] = userId }, ["roles"] = new JsonArray() },
        ["data"] = new JsonObject
        {
            ["id"] = "1", ["name"] = "migrate", ["type"] = 1,
            ["options"] = new JsonArray(new JsonObject { ["type"] = 1, ["name"] = subCommand, ["options"] = new JsonArray([.. options]) }),
        },
    }.ToJsonString();
}

/// <summary>What the Discord run measured, and its Markdown.</summary>
internal sealed record DiscordResult(MachineNote Machine, string Server, InboundSettings Settings, Latency Ack, int NotOk, TimeSpan Verification,
    TimeSpan InteractionsTook, TimeSpan PushTook, TimeSpan HandlingTook, InboxTally Dispatches, InboxTally Commands, AuditTally Audit, int AnsweredTwice,
    int Unanswered, int Identifies, int Resumes, string? RunningState, int ThreadLines, (long Sent, long Waiting, long Parked) Outbox, TimeSpan? ServeCpu, int ServeExit)
{
    public int Twice => Audit.Twice + AnsweredTwice + Dispatches.ExtraRows + Commands.ExtraRows;
    public int Lost => Audit.Missing + Unanswered + (Dispatches.Expected - Dispatches.Handled) + (Commands.Expected - Commands.Handled);

    public string Markdown()
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"## Discord inbound: interactions and Gateway dispatches, handled once (`--discord{(Settings.Smoke ? " --smoke" : "")}`)");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"- date: {Machine.Date}; {Machine.Describe}; server: {Server}");
        s.AppendLine(CultureInfo.InvariantCulture, $"- `chatops serve` (Release build, production defaults, Information logs to a file) on 127.0.0.1 with the interactions endpoint and the Gateway (heartbeat every 41.25 s, as Discord's); the fake Discord and the senders in the benchmark's process, PostgreSQL beside them: all on the same {Machine.Cores} cores");
        s.AppendLine(CultureInfo.InvariantCulture, $"- load, at the same time: {Settings.Commands:N0} `/migrate help` interactions signed with Ed25519 (each answered by editing its deferred reply) from {Settings.Senders} concurrent senders (each sends its next when its previous one is answered); {Settings.Reactions:N0} `MESSAGE_REACTION_ADD` dispatches (✅ on a card waiting for sign-offs, each by a different person holding none of the four roles) pushed over the fake Gateway as fast as its socket takes them, with the connection closed (4000) half-way: {Identifies} IDENTIFY, {Resumes} RESUME (the fake replays what the bot had not acknowledged)");
        s.AppendLine(CultureInfo.InvariantCulture, $"- meanwhile: D-1 (approved by the four roles) runs `SELECT pg_sleep({InboundRig.StatementSleep.TotalSeconds:0.0#})` statements, one thread line each: {ThreadLines} thread lines posted while the load was sent and handled; D-1 was `{RunningState}` when the last event was handled");
        s.AppendLine();
        s.AppendLine("| measure | value | target |");
        s.AppendLine("|---|---|---|");
        s.AppendLine(CultureInfo.InvariantCulture, $"| interaction acknowledgement p50 / p99 / max ({Ack.Count:N0} requests) | {Ack.P50:0.0} / {Ack.P99:0.0} / {Ack.Max:0.0} ms | p99 ≤ 100 ms (Discord's limit 3 s): {(Ack.P99 <= 100 ? "met" : "**not met**")} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| answers other than 200 | {NotOk} | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| Ed25519 verification per request (`InteractionSignature.Verify`, in-process, one core) | {Verification.TotalMicroseconds:0} µs ({Verification.TotalMilliseconds / Ack.P50:P2} of the p50 acknowledgement) | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| interactions acknowledged per second (all sent in {InteractionsTook.TotalSeconds:0.00} s) | {Settings.Commands / InteractionsTook.TotalSeconds:0} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| dispatches pushed per second (all pushed in {PushTook.TotalSeconds:0.00} s) / taken into the inbox per second | {Settings.Reactions / PushTook.TotalSeconds:0} / {Dispatches.TakenPerSecond:0} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| dispatches handled per second (first taken → last handled, state database clock, interactions handled in between) | {Dispatches.HandledPerSecond:0} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| all events handled per second ({Dispatches.Handled + Commands.Handled:N0} events, all handled {HandlingTook.TotalSeconds:0.00} s after the first was sent) | {(Dispatches.Handled + Commands.Handled) / HandlingTook.TotalSeconds:0} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| handled twice (audit lines > 1, answers > 1, extra inbox rows) | **{Twice}** ({Audit.Twice} + {AnsweredTwice} + {Dispatches.ExtraRows + Commands.ExtraRows}) | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| lost (no audit line, no answer, not handled) | **{Lost}** ({Audit.Missing} + {Unanswered} + {Dispatches.Expected - Dispatches.Handled + Commands.Expected - Commands.Handled}) | 0 |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| `serve`'s CPU during the load | {(ServeCpu is { } cpu ? $"{cpu.TotalSeconds:0.0} s in {HandlingTook.TotalSeconds:0.0} s ({cpu / HandlingTook:0.00} cores)" : "—")} | |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| Discord outbox at the end: sent / waiting / parked | {Outbox.Sent:N0} / {Outbox.Waiting:N0} / {Outbox.Parked:N0} | |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Audit line of a reaction, as written: \"{Audit.Sample}\". `serve` exited {ServeExit} on SIGTERM (D-1 let go mid-run).");
        return s.ToString();
    }
}
