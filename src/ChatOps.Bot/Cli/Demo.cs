using System.Text.Json.Nodes;
using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;
using ChatOps.Postgres.Workload;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>What <c>chatops demo</c> was asked for.</summary>
/// <param name="Breach">Another application blocks the table during phase 2: the lock-wait trigger fires, the bot alerts and asks, the DBA rolls back.</param>
/// <param name="Interactive">After the story, the channel stays open: standard input is read as <c>serve</c> reads it, until its end or Ctrl-C.</param>
public sealed record DemoRequest(string Migration, int Rows, string? Connection, bool Breach = false, bool Interactive = false);

/// <summary>
/// The demo: the whole story in the local channel. One throwaway PostgreSQL with a target database (the demo schema, its contacts)
/// and the bot's state database; the application workload; one replica of the bot on the local platform, printing to standard output;
/// four demo users signing off, the runbook with status posts on a compressed clock, post-deployment monitoring and the performance
/// report — or, with a breach, the alert, the prompt and the rollback. The bot, the conversation and the runbook are the real ones:
/// the demo only composes them and types (<see cref="DemoStory"/>).
/// </summary>
public sealed class Demo(TextWriter output, TextWriter error, TextReader console, IConfiguration configuration, IOptions<MigrationsOptions> migrations,
    IOptions<ExecutionOptions> execution, IOptions<MonitoringOptions> monitoring, TimeProvider time, ILoggerFactory logging)
{
    /// <summary>
    /// The demo's clock, unless the usual keys are set: status every 10 s, post-deployment monitoring for a minute (status every 10 s
    /// for its first 30 s) — the checklist's 15 minutes, 24 hours and 2 hours, compressed to fit in three minutes.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> CompressedClock { get; } = new Dictionary<string, string?>
    {
        ["ChatOps:Status:Interval"] = "00:00:10",
        ["ChatOps:PostDeployment:Immediate"] = "00:00:30",
        ["ChatOps:PostDeployment:Extended"] = "00:01:00",
    };

    /// <summary>The lock-wait trigger's window with <c>--breach</c> (the checklist's is 60 s).</summary>
    public static readonly TimeSpan BreachWindow = TimeSpan.FromSeconds(10);

    private const string LockWaitRule = "app-lock-wait";

    public async Task<int> RunAsync(DemoRequest request, CancellationToken cancellationToken)
    {
        // Refuse a bad name or setting before starting anything.
        var catalog = new MigrationCatalog(migrations.Value.ResolvedDirectory);
        var files = catalog.Find(request.Migration);
        if (request.Breach && files.RollbackPath is null)
            throw new MigrationRefusedException($"--breach ends in a rollback, and {files.Id} has no {files.Id}.rollback.sql");
        var (reporting, problems) = ReportingSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(CompressedClock).AddConfiguration(configuration).Build());
        if (reporting is null)
            throw new OptionsValidationException("ChatOps", typeof(Demo), problems);
        // The breach's story is the question and its answer: whatever ChatOps:Thresholds:OnBreach says, the bot asks.
        if (request.Breach)
            reporting = reporting with { OnBreach = BreachPolicy.Ask };

        var began = time.GetTimestamp();
        var step = began;
        ThrowawayPostgres server;
        try
        {
            server = await new PostgresLauncher(logging.CreateLogger<Demo>()).StartAsync(request.Connection, cancellationToken);
        }
        catch (PostgresUnavailableException ex)
        {
            await error.WriteLineAsync(ex.Message);
            return ExitCodes.Failed;
        }
        await using var _ = server;
        output.WriteLine($"ChatOps demo · {files.Id}{(request.Breach ? " · with a breach" : "")}");
        Step($"PostgreSQL: {server.Description}", ref step);

        var database = $"chatops_demo_{time.GetUtcNow():yyyyMMdd_HHmmss}_{Environment.ProcessId}";
        var stateDatabase = database + "_state";
        var pinned = request.Breach ? Directory.CreateTempSubdirectory("chatops-demo-") : null;
        await DatabaseAdmin.CreateAsync(server.ConnectionString, database, template: null, cancellationToken);
        try
        {
            await DatabaseAdmin.CreateAsync(server.ConnectionString, stateDatabase, template: null, cancellationToken);
            var target = ConnectionStrings.WithDatabase(server.ConnectionString, database);
            var state = ConnectionStrings.WithDatabase(server.ConnectionString, stateDatabase);
            await DemoDatabase.CreateAsync(target, request.Rows, cancellationToken);
            await StateDatabase.MigrateAsync(state, cancellationToken);
            Step($"database {database}: demo schema, {request.Rows:N0} contacts in {DemoDatabase.OrganizationsFor(request.Rows):N0} organisations; " +
                 $"the bot's state in {stateDatabase}", ref step);

            await using var workload = new ApplicationWorkload(target);
            workload.Start();
            output.WriteLine($"✓ application workload running (4 sessions \"{ApplicationWorkload.ApplicationName}\": searches, reads, updates, inserts)");

            var exit = await ConverseAsync(request, pinned is null ? catalog : Pin(files, pinned.FullName), target, state, reporting, cancellationToken);

            var summary = workload.Summary;
            output.WriteLine();
            output.WriteLine($"Application during the run: {summary.Transactions:N0} transactions, {summary.Failures} failed, " +
                             $"slowest {summary.MaxLatency.TotalMilliseconds:0} ms{(summary.LastError is { } e ? $" (last error: {e})" : "")}");
            output.WriteLine($"The demo took {time.GetElapsedTime(began).TotalSeconds:0.0} s.");
            return exit;
        }
        finally
        {
            pinned?.Delete(recursive: true);
            // On a throwaway server the whole cluster goes; on a given server, only our scratch databases.
            if (request.Connection is not null)
            {
                await DatabaseAdmin.DropAsync(server.ConnectionString, stateDatabase, CancellationToken.None);
                await DatabaseAdmin.DropAsync(server.ConnectionString, database, CancellationToken.None);
            }
        }
    }

    /// <summary>The bot on the local channel, the story typed into it, and (interactive) a person after it.</summary>
    private async Task<int> ConverseAsync(DemoRequest request, MigrationCatalog catalog, string target, string state, ReportingPolicy reporting,
        CancellationToken cancellationToken)
    {
        var channel = new LocalChannel(output) { Holders = DemoCast.Holders };
        await using var connections = new StateConnections(state);
        // The breach's story acts on the runbook's events as the runner raises them (the blocking session locks as phase 2 starts).
        using var events = request.Breach ? new BotMetrics(time, logging.CreateLogger<BotMetrics>()) : null;
        var bot = new ChatOpsBot(new BotParts(connections, catalog, new Targets(target, new Dictionary<string, string>()), DemoCast.Holders, new SignOffPolicy(),
                new DeploymentPermissions(DemoCast.Holders), execution.Value, monitoring.Value, time, logging, reporting),
            new Dictionary<string, IChatChannel> { ["Local"] = channel }, metrics: events);
        await bot.StartAsync(cancellationToken);
        try
        {
            output.WriteLine();
            channel.Print($"🎬 In #{LocalInput.DefaultChannelId}: {DemoCast.Introduction()}.");
            channel.Print($"🎬 A compressed clock: status every {DeploymentCards.InWords(reporting.Cadence.Interval)} (the checklist: every 15 minutes), " +
                          $"post-deployment monitoring for {DeploymentCards.InWords(reporting.Cadence.Extended)} (24 hours) with status every " +
                          $"{DeploymentCards.InWords(reporting.Cadence.Interval)} for its first {DeploymentCards.InWords(reporting.Cadence.Immediate)} (2 hours), " +
                          "then the performance report.");
            if (request.Breach)
                channel.Print($"🎬 For the breach, this demo's copy of {request.Migration} has a runbook file that sets thresholds.{LockWaitRule}.for to " +
                              $"{DeploymentCards.InWords(BreachWindow)}: the rollback trigger is “{Rule(catalog, request.Migration).Describe()}” where the " +
                              $"migration's own runbook says “{Rule(new MigrationCatalog(migrations.Value.ResolvedDirectory), request.Migration).Describe()}” — " +
                              $"the same rule on a compressed clock. On a breach the bot asks ({BreachPolicies.ConfigKey} = {reporting.OnBreach.ToString().ToLowerInvariant()}).");

            using var script = new ScriptedInput(request.Interactive ? console : null);
            var input = new LocalInput(bot.Conductors["Local"].CardOf, initialUser: DemoCast.Requester);
            var inbox = bot.Inbox.For("Local");
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Exactly serve's local loop: each line's answer is printed before the next line is read; runs go on in the background.
            var loop = Task.Run(() => new LocalLoop(channel, input, async (e, ct) =>
            {
                await inbox.AcceptAsync(e, ct);
                await bot.SettleAsync(TimeSpan.FromMinutes(5), ct, runs: false);
            }).RunAsync(script, stopping.Token), CancellationToken.None);

            var storyBegan = time.GetTimestamp();
            var story = new DemoStory(bot, channel, script, time).RunAsync(request.Migration, request.Breach, target, reporting.Cadence.Extended, stopping.Token);
            string? stopped;
            try
            {
                if (await Task.WhenAny(story, loop) == loop)
                {
                    // The loop ended under the story (an exception from the bot): the story would wait for it forever.
                    await loop;
                    throw new InvalidOperationException("the local channel's input loop ended before the story did");
                }
                stopped = await story;
            }
            catch
            {
                // Ctrl-C, or the story or the loop failed: neither is left waiting for the other.
                await stopping.CancelAsync();
                await Task.WhenAll(story, loop).ContinueWith(_ => { }, TaskScheduler.Default);
                throw;
            }
            script.End();
            if (stopped is not null)
            {
                await stopping.CancelAsync();
                await Ended(loop);
                await error.WriteLineAsync($"The demo did not reach its end: {stopped}");
                return ExitCodes.Failed;
            }
            output.WriteLine();
            channel.Print($"🎬 The story took {time.GetElapsedTime(storyBegan).TotalSeconds:0.0} s.");

            if (request.Interactive)
            {
                channel.Print($"🎬 The channel is yours: type /migrate … (as {DemoCast.Requester}; /migrate help lists the commands), `as <user>` to be someone " +
                              $"else ({string.Join(", ", DemoCast.Signers.Select(s => s.User))}), `react <user> <emoji> <D-n>`; end of input (Ctrl-D) or Ctrl-C ends the demo.");
                if (await Ended(loop))
                    await bot.SettleAsync(TimeSpan.FromHours(24), cancellationToken);   // input ended: the deployments it started finish first
            }
            else
                await loop;
            return ExitCodes.Done;
        }
        finally
        {
            await bot.StopAsync();
        }
    }

    /// <summary>Waits for the loop; false when it ended by cancellation (Ctrl-C), true at the end of its input.</summary>
    private static async Task<bool> Ended(Task loop)
    {
        try
        {
            await loop;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// A copy of the migration in <paramref name="directory"/> whose runbook file shortens the lock-wait trigger's window to
    /// <see cref="BreachWindow"/> (its value and everything else as the migration's own file has them).
    /// </summary>
    private static MigrationCatalog Pin(MigrationFiles files, string directory)
    {
        File.Copy(files.SqlPath, Path.Combine(directory, Path.GetFileName(files.SqlPath)));
        File.Copy(files.RollbackPath!, Path.Combine(directory, Path.GetFileName(files.RollbackPath!)));
        var runbook = (files.RunbookPath is null ? null : JsonNode.Parse(File.ReadAllText(files.RunbookPath))) as JsonObject ?? [];
        var thresholds = runbook["thresholds"] as JsonObject ?? [];
        runbook["thresholds"] = thresholds;
        var rule = thresholds[LockWaitRule] as JsonObject ?? [];
        thresholds[LockWaitRule] = rule;
        rule["for"] = BreachWindow.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(directory, $"{files.Id}.runbook.json"), runbook.ToJsonString(new() { WriteIndented = true }));
        return new MigrationCatalog(directory);
    }

    private static Core.Monitoring.ThresholdRule Rule(MigrationCatalog catalog, string migration)
    {
        var path = catalog.Find(migration).RunbookPath;
        var runbook = path is null ? MigrationRunbook.Empty : MigrationRunbook.Parse(File.ReadAllText(path), path);
        return runbook.Rules().Single(r => r.Name == LockWaitRule);
    }

    private void Step(string what, ref long since)
    {
        output.WriteLine($"✓ {what}  ({time.GetElapsedTime(since).TotalSeconds:0.0} s)");
        since = time.GetTimestamp();
    }
}
