using System.CommandLine;
using ChatOps.Bot.Hosting;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops demo</c>: the whole story in the local channel, on a throwaway PostgreSQL with demo data.</summary>
public static class DemoVerb
{
    public const string SeedMigration = "20250803_add_analytics_tracking_optimized";

    public static Command Create()
    {
        var rows = new Option<int?>("--rows") { Description = "Contacts to generate (default ChatOps:Demo:Rows, 50,000)." };
        var connection = new Option<string?>("--connection")
        {
            Description = "Use this PostgreSQL server (a scratch database is created on it and dropped after) instead of starting a throwaway one.",
        };
        var migration = new Option<string>("--migration") { Description = "The migration to deploy.", DefaultValueFactory = _ => SeedMigration };
        var breach = new Option<bool>("--breach")
        {
            Description = "During phase 2 another application's session locks the table: the lock-wait trigger fires (its window compressed to " +
                          "10 s, and the demo says so), the bot alerts the channel and asks, the DBA answers ⏪, the rollback runs and is verified.",
        };
        var interactive = new Option<bool>("--interactive")
        {
            Description = "After the story, leave the channel open: read standard input as serve does (/migrate …, as <user>, react <user> <emoji> <D-n>) " +
                          "until its end or Ctrl-C.",
        };
        var command = new Command("demo",
            "The whole story in the local channel, in under 3 minutes: a throwaway PostgreSQL (given server, Docker, or local binaries) with the " +
            "demo schema and data, an application workload, the bot's state database, and the bot printing to standard output; four demo users " +
            "(one per role) sign off on /migrate start, the runbook runs with status posts on a compressed clock (every 10 s; post-deployment " +
            "monitoring 1 min; ChatOps:Status:Interval and ChatOps:PostDeployment:Immediate|Extended override them), then the performance report " +
            "and COMPLETED. Exit 0 when the story reaches its end (COMPLETED; ROLLED BACK with --breach), 1 with the reason when not. Needs no configuration.")
        {
            rows, connection, migration, breach, interactive,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var requestedRows = parse.GetValue(rows) ?? host.Services.GetRequiredService<IConfiguration>().GetValue("ChatOps:Demo:Rows", 50_000);
            if (requestedRows < 1)
            {
                Console.Error.WriteLine($"--rows must be at least 1 (got {requestedRows}).");
                return ChatOpsCommandLine.UsageError;
            }
            var demo = ActivatorUtilities.CreateInstance<Demo>(host.Services, Console.Out, Console.Error, Console.In);
            return await demo.RunAsync(new DemoRequest(parse.GetValue(migration)!, requestedRows, parse.GetValue(connection), parse.GetValue(breach),
                parse.GetValue(interactive)), cancellationToken);
        }));
        return command;
    }
}
