using System.CommandLine;
using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Bot.Scheduling;
using ChatOps.Postgres;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>
/// <c>chatops serve</c>: the bot. An ASP.NET Core host (same configuration, validated options and Serilog as the other verbs)
/// with health, readiness and metrics endpoints, the state database migrated at start-up, and one replica of the bot — inbox,
/// conductors, outbox dispatchers, the deployments' owner — on the enabled platforms.
/// </summary>
public static class ServeVerb
{
    /// <summary>Where serve listens without <c>--urls</c>: the loopback only (a platform reaches it through a proxy or tunnel one sets up).</summary>
    public const string DefaultUrls = "http://127.0.0.1:8080";

    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where the HTTP endpoints listen (/healthz, /readyz, /metrics; Slack and Discord with their adapters).", DefaultValueFactory = _ => DefaultUrls };
        var command = new Command("serve", "Run the bot: /migrate commands, the deployment card, four-role sign-off, the runbook with its events in the card's thread. " +
            "Needs ConnectionStrings:State (the bot's own database: deployments, sign-offs, audit, inbox, outbox; tables created at start-up), a target " +
            "(ConnectionStrings:Target or ChatOps:Targets:<name>) and the role holders (ChatOps:Roles:<DatabaseAdministrator|SeniorBackendEngineer|DevOpsLead|ProductOwner>, " +
            "lists of user ids). Several replicas may share one state database. The local channel reads `/migrate …`, `as <user>`, `react <user> <emoji> <D-n>`, " +
            "`unreact …` from standard input; at its end the bot waits for running deployments and stops.")
        {
            urls,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = ProductFiles.Root });
            builder.WebHost.UseUrls(parse.GetValue(urls)!);
            builder.AddChatOpsOptions();
            builder.AddChatOpsLogging();
            await using var app = builder.Build();
            if (BotHost.Problems(app.Services) is { Count: > 0 } problems)
                throw new OptionsValidationException("ChatOps", typeof(ServeVerb), problems);
            var (settings, settingsProblems) = BotSettings.Read(app.Configuration);
            var (reporting, reportingProblems) = ReportingSettings.Read(app.Configuration);
            if (settings is null || reporting is null)
                throw new OptionsValidationException("ChatOps", typeof(ServeVerb), [.. settingsProblems, .. reportingProblems]);

            var logger = app.Services.GetRequiredService<ILogger<ChatOpsBot>>();
            await using var state = new StateConnections(settings.State);
            // The schema first: the console's message ids go on from the last session's (the outbox keeps them), so a restarted bot never reuses one.
            IReadOnlyList<int> applied;
            try
            {
                applied = await StateDatabase.MigrateAsync(settings.State, cancellationToken);
            }
            catch (Npgsql.NpgsqlException ex) when (TargetFailure.Classify(ex) is { } failure)
            {
                // Said as the state database's problem: the target may be fine, and the fix is in ConnectionStrings:State.
                Console.Error.WriteLine($"The state database (ConnectionStrings:State) is not available: {failure.Message}");
                return ExitCodes.TargetUnavailable;
            }
            logger.LogInformation("state database {State}: schema version {Version}{Applied}", ConnectionStrings.Describe(settings.State),
                StateDatabase.CurrentVersion, applied.Count > 0 ? $" (applied {string.Join(", ", applied)})" : "");

            // One HttpClient for every platform call (its own logging stays off: a Discord follow-up URL carries the interaction token).
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var platforms = await ChatPlatforms.CreateAsync(app.Services, settings.Platforms, settings.Roles, TimeProvider.System, http,
                await new Outbox(state, TimeProvider.System).LastNumberedIdAsync("Local", "L", cancellationToken) + 1, cancellationToken);
            using var metrics = new BotMetrics(TimeProvider.System, app.Services.GetRequiredService<ILogger<BotMetrics>>());
            // Quartz on the state database, clustered with every other replica's (its tables created when missing).
            await using var schedule = await QuartzDeploymentSchedule.CreateAsync(settings.State, TimeProvider.System,
                app.Services.GetRequiredService<ILoggerFactory>(), cancellationToken);
            var bot = new ChatOpsBot(new BotParts(state,
                new MigrationCatalog(app.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory), settings.Targets, settings.Roles,
                settings.Approvals, settings.Permissions, app.Services.GetRequiredService<IOptions<ExecutionOptions>>().Value,
                app.Services.GetRequiredService<IOptions<MonitoringOptions>>().Value, TimeProvider.System, app.Services.GetRequiredService<ILoggerFactory>(),
                reporting, settings.MaintenanceWindow, settings.SignOffWatchInterval), platforms.Channels, metrics: metrics, schedule: schedule);
            platforms.Connect(app, bot);
            var connections = new PlatformConnections(state, platforms.Connections, TimeProvider.System, app.Services.GetRequiredService<ILogger<PlatformConnections>>());
            app.MapBotHealth(bot, settings, connections.ProblemsAsync, connections.Degraded);
            app.MapBotMetrics(metrics);

            await bot.StartAsync(cancellationToken);
            await app.StartAsync(cancellationToken);
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, app.Lifetime.ApplicationStopping);
            var holding = Task.Run(() => connections.RunAsync(stopping.Token), CancellationToken.None);
            try
            {
                if (platforms.Local is { } local)
                {
                    var conductor = bot.Conductors["Local"];
                    var inbox = bot.Inbox.For("Local");
                    var input = new LocalInput(conductor.CardOf);
                    // Each line's answer is printed before the next line is read; runs go on in the background.
                    await new LocalLoop(local, input, async (e, ct) =>
                    {
                        await inbox.AcceptAsync(e, ct);
                        await bot.SettleAsync(TimeSpan.FromMinutes(5), ct, runs: false);
                    }).RunAsync(Console.In, stopping.Token);
                    // Standard input ended: the session is over once the deployments it started have run (and their post-deployment
                    // monitoring ended; the next start goes on with one that outlasts this).
                    try
                    {
                        await bot.SettleAsync(TimeSpan.FromHours(25), stopping.Token);
                    }
                    catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                    {
                        logger.LogWarning("the local session ends with deployments still being watched: the next start goes on with them");
                    }
                }
                else
                    await Task.Delay(Timeout.Infinite, stopping.Token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // SIGTERM or Ctrl-C: the deployments this replica holds are let go for another replica (or the next start) to take over.
                logger.LogInformation("stopping: deployments held here are let go");
            }
            finally
            {
                await stopping.CancelAsync();
                await holding;
                await bot.StopAsync();
                await app.StopAsync(CancellationToken.None);
            }
            return ExitCodes.Done;
        }));
        return command;
    }
}
