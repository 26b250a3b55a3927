using System.CommandLine;
using Microsoft.Extensions.Options;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Migrations;
using Npgsql;

namespace ChatOps.Bot.Cli;

/// <summary>The <c>chatops</c> command line: one <see cref="Command"/> per verb.</summary>
public static class ChatOpsCommandLine
{
    /// <summary>Exit code for bad input (unknown verb, bad option, bad configuration).</summary>
    public const int UsageError = ExitCodes.Refused;

    public static RootCommand Create()
    {
        var root = new RootCommand(
            "ChatOps conducts risky PostgreSQL migrations: a checklist as a runbook, lock-safe execution, " +
            "sign-off and status in Slack or Discord.");
        root.Subcommands.Add(DemoVerb.Create());
        root.Subcommands.Add(ListVerb.Create());
        root.Subcommands.Add(PlanVerb.Create());
        root.Subcommands.Add(RunVerb.Create());
        root.Subcommands.Add(RollbackVerb.Create());
        // A bare `chatops` is a request for help, not a success.
        root.SetAction(parse =>
        {
            Console.Error.WriteLine("A verb is required.");
            root.Parse("--help").Invoke();
            return UsageError;
        });
        return root;
    }

    /// <summary>Runs a verb body, turning configuration errors into one clear message and exit code 2.</summary>
    public static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (OptionsValidationException ex)
        {
            Console.Error.WriteLine("The configuration is not valid:");
            foreach (var failure in ex.Failures)
                Console.Error.WriteLine($"  - {failure}");
            Console.Error.WriteLine("Settings come from appsettings.json and environment variables such as ChatOps__Execution__LockTimeout.");
            return UsageError;
        }
        catch (MigrationNotFoundException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return UsageError;
        }
        catch (MigrationRefusedException ex)
        {
            Console.Error.WriteLine($"Refused: {ex.Message}");
            return UsageError;
        }
        catch (TargetBusyException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 1;
        }
        catch (NpgsqlException ex) when (ex is not PostgresException && ex.InnerException is System.Net.Sockets.SocketException or TimeoutException)
        {
            // "Failed to connect to host:port" names the server; the connection string (and its password) is never printed.
            Console.Error.WriteLine($"PostgreSQL is unreachable: {ex.Message} ({ex.InnerException?.Message}).");
            return 1;
        }
    }
}
