using System.CommandLine;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Migrations;
using Microsoft.Extensions.Options;

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
            "sign-off and status in Slack or Discord. " + ExitCodes.Help);
        root.Subcommands.Add(DemoVerb.Create());
        root.Subcommands.Add(ListVerb.Create());
        root.Subcommands.Add(PlanVerb.Create());
        root.Subcommands.Add(RunVerb.Create());
        root.Subcommands.Add(RollbackVerb.Create());
        root.Subcommands.Add(ServeVerb.Create());
        root.Subcommands.Add(RegisterDiscordCommandsVerb.Create());
        // Here rather than in each verb: every verb's --help lists the same codes, and every --target says where the
        // password comes from (plan declares its own --target).
        foreach (var verb in root.Subcommands)
        {
            verb.Description = $"{verb.Description} {ExitCodes.Help}";
            foreach (var target in verb.Options.Where(o => o.Name == "--target" && o.Description?.Contains("PGPASSWORD", StringComparison.Ordinal) != true))
                target.Description = $"{target.Description} {TargetOption.PasswordHelp}";
        }
        // A bare `chatops` is a request for help, not a success.
        root.SetAction(parse =>
        {
            Console.Error.WriteLine("A verb is required.");
            root.Parse("--help").Invoke();
            return UsageError;
        });
        return root;
    }

    /// <summary>Runs a verb body, turning each kind of failure into one clear message on standard error and its exit code.</summary>
    public static Task<int> GuardAsync(Func<Task<int>> body) => GuardAsync(body, Console.Error, StackTracesRequested());

    /// <summary>
    /// Runs a verb body: bad input and configuration exit <see cref="ExitCodes.Refused"/>, a busy or unreachable target
    /// <see cref="ExitCodes.TargetUnavailable"/> (see <see cref="TargetFailure"/>), anything else is an unexpected error
    /// (<see cref="ExitCodes.Failed"/>) — one line, its stack trace only when <paramref name="stackTraces"/>.
    /// </summary>
    public static async Task<int> GuardAsync(Func<Task<int>> body, TextWriter error, bool stackTraces)
    {
        try
        {
            return await body();
        }
        catch (OptionsValidationException ex)
        {
            error.WriteLine("The configuration is not valid:");
            foreach (var failure in ex.Failures)
                error.WriteLine($"  - {failure}");
            error.WriteLine("Settings come from appsettings.json and environment variables such as ChatOps__Execution__LockTimeout.");
            return ExitCodes.Refused;
        }
        catch (MigrationNotFoundException ex)
        {
            error.WriteLine(ex.Message);
            return ExitCodes.Refused;
        }
        catch (MigrationRefusedException ex)
        {
            error.WriteLine($"Refused: {ex.Message}");
            return ExitCodes.Refused;
        }
        catch (SqlLexer.SqlSyntaxException ex)
        {
            // Scripts are split before anything runs: no statement of this script has been sent.
            error.WriteLine($"Refused: {(ex.File is null ? "" : ex.File + ": ")}{ex.Message}; nothing was run.");
            return ExitCodes.Refused;
        }
        catch (InvalidConnectionStringException ex)
        {
            error.WriteLine(ex.Message);
            return ExitCodes.Refused;
        }
        catch (InvalidDataException ex) when (ex.Message.StartsWith("Failed to load configuration", StringComparison.Ordinal))
        {
            // appsettings.json that is not JSON: the message names the file; the inner one says where.
            error.WriteLine($"The configuration is not valid: {ex.Message} {ex.InnerException?.Message}".TrimEnd());
            return ExitCodes.Refused;
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the verb's own business (it says where it stopped), not an error to explain here.
            throw;
        }
        catch (Exception ex) when (TargetFailure.Classify(ex) is { } failure)
        {
            error.WriteLine(failure.Message);
            return ExitCodes.TargetUnavailable;
        }
        catch (Exception ex)
        {
            var message = SecretText.Redact($"{ex.GetType().Name}: {ex.Message}", SecretText.OfThisProcess());
            error.WriteLine($"Unexpected error: {message}");
            if (stackTraces)
                error.WriteLine(SecretText.Redact(ex.ToString(), SecretText.OfThisProcess()));
            else
                error.WriteLine("The log is above on standard error; for the stack trace, run again with Serilog__MinimumLevel__Default=Debug.");
            return ExitCodes.Failed;
        }
    }

    /// <summary>Stack traces only when the log level asks for Debug (or Verbose): read here, because the host may not have been built.</summary>
    private static bool StackTracesRequested()
    {
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(ProductFiles.Root, "appsettings.json"), optional: true, reloadOnChange: false)
                .AddEnvironmentVariables()
                .Build();
            var level = configuration["Serilog:MinimumLevel:Default"] ?? configuration["Serilog:MinimumLevel"];
            return level is not null && (level.Equals("Debug", StringComparison.OrdinalIgnoreCase) || level.Equals("Verbose", StringComparison.OrdinalIgnoreCase));
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            return false;
        }
    }
}
