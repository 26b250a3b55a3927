using System.CommandLine;
using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Postgres;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>
/// <c>chatops serve</c>: the bot. An ASP.NET Core host (same configuration, validated options and Serilog as the other verbs)
/// with a health endpoint, the state database migrated at start-up, the conductor, and the enabled platforms — today the
/// local channel, which prints the conversation and reads commands and reactions from standard input.
/// </summary>
public static class ServeVerb
{
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where the HTTP endpoints listen (health today; Slack and Discord with their adapters).", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var command = new Command("serve", "Run the bot: /migrate commands, the deployment card, four-role sign-off, the runbook with its events in the card's thread. " +
            "Needs ConnectionStrings:State (the bot's own database: deployments, sign-offs, audit; tables created at start-up), a target " +
            "(ConnectionStrings:Target or ChatOps:Targets:<name>) and the role holders (ChatOps:Roles:<DatabaseAdministrator|SeniorBackendEngineer|DevOpsLead|ProductOwner>, " +
            "lists of user ids). The local channel reads `/migrate …`, `as <user>`, `react <user> <emoji> <D-n>`, `unreact …` from standard input; " +
            "at its end the bot waits for running deployments and stops.")
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
            if (settings is null)
                throw new OptionsValidationException("ChatOps", typeof(ServeVerb), settingsProblems);

            var applied = await StateDatabase.MigrateAsync(settings.State, cancellationToken);
            var logger = app.Services.GetRequiredService<ILogger<Conductor>>();
            logger.LogInformation("state database {State}: schema version {Version}{Applied}", ConnectionStrings.Describe(settings.State),
                StateDatabase.CurrentVersion, applied.Count > 0 ? $" (applied {string.Join(", ", applied)})" : "");

            var channel = new LocalChannel(Console.Out);
            var conductor = new Conductor(new DeploymentStore(settings.State, settings.Roles, settings.Approvals, settings.Permissions), channel,
                new MigrationCatalog(app.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory), settings.Targets, settings.Roles,
                app.Services.GetRequiredService<IOptions<ExecutionOptions>>().Value, app.Services.GetRequiredService<IOptions<MonitoringOptions>>().Value,
                TimeProvider.System, logger);
            app.MapGet("/healthz", () => Results.Ok(new { status = "ok", platforms = settings.Platforms }));

            await conductor.LoadCardsAsync(cancellationToken);
            await app.StartAsync(cancellationToken);
            var input = new LocalInput(conductor.CardOf);
            await new LocalLoop(channel, input, conductor.HandleAsync).RunAsync(Console.In, cancellationToken);
            // Standard input ended: the session is over once the deployments it started have run.
            await Task.WhenAll(conductor.Runs);
            await app.StopAsync(CancellationToken.None);
            return ExitCodes.Done;
        }));
        return command;
    }
}
