using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

public class CommandLineTests
{
    [Fact]
    public async Task Help_lists_the_verbs_and_exits_zero()
    {
        var result = await ChatOpsProcess.RunAsync(["--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("demo", result.Output);
        Assert.Contains("list", result.Output);
    }

    [Fact]
    public async Task Each_verb_answers_help()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--rows", result.Output);
        Assert.Contains("--connection", result.Output);
    }

    [Fact]
    public async Task Serve_help_documents_urls_with_its_default_and_that_default_is_what_serve_listens_on_without_it()
    {
        var result = await ChatOpsProcess.RunAsync(["serve", "--help"]);
        Assert.Equal(0, result.ExitCode);
        var urls = Assert.Single(result.Output.Split('\n'), l => l.TrimStart().StartsWith("--urls", StringComparison.Ordinal));
        Assert.Contains("Where the HTTP endpoints listen", urls);
        Assert.Contains("[default: http://127.0.0.1:8080]", urls);

        // The value serve's action hands to UseUrls when --urls is absent (the same option the help describes); given, it wins.
        var serve = ChatOps.Bot.Cli.ServeVerb.Create();
        Assert.Equal("http://127.0.0.1:8080", ChatOps.Bot.Cli.ServeVerb.DefaultUrls);
        Assert.Equal("http://127.0.0.1:8080", serve.Parse([]).GetValue<string>("--urls"));
        Assert.Equal("http://0.0.0.0:9000", serve.Parse(["--urls", "http://0.0.0.0:9000"]).GetValue<string>("--urls"));
    }

    [Fact]
    public async Task An_unknown_verb_prints_help_and_fails()
    {
        var result = await ChatOpsProcess.RunAsync(["deploy-everything"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("deploy-everything", result.Error);
        Assert.Contains("Commands:", result.Output);
    }

    [Fact]
    public async Task No_verb_prints_help_and_fails()
    {
        var result = await ChatOpsProcess.RunAsync([]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Commands:", result.Output);
    }

    [Fact]
    public async Task A_bad_configuration_stops_start_up_naming_every_problem_and_the_fix()
    {
        var result = await ChatOpsProcess.RunAsync(["list"], new Dictionary<string, string>
        {
            ["ChatOps__Execution__LockTimeout"] = "00:00:00",
            ["ChatOps__Monitoring__SampleInterval"] = "01:00:00",
            ["ChatOps__Migrations__Directory"] = "/nonexistent/migrations",
        });
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("ChatOps:Execution:LockTimeout", result.Error);
        Assert.Contains("ChatOps:Monitoring:SampleInterval", result.Error);
        Assert.Contains("/nonexistent/migrations", result.Error);
        Assert.Contains("default 00:00:00.200", result.Error);
    }

    [Fact]
    public async Task List_shows_the_seed_migration_with_its_rollback_and_runbook()
    {
        var result = await ChatOpsProcess.RunAsync(["list"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"{SeedMigration.Id}  rollback: yes  runbook: yes", result.Output);
    }

    [Fact]
    public async Task Run_refuses_an_empty_migration_and_a_runbook_with_an_invalid_threshold_before_touching_any_target()
    {
        var directory = Directory.CreateTempSubdirectory("chatops-refused-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "empty.sql"), "-- to be written\n");
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "negative.sql"), "CREATE INDEX CONCURRENTLY i ON t (c);\n");
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "negative.runbook.json"), """{ "thresholds": { "blocked-sessions": { "value": -5 } } }""");
            var environment = new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = directory.FullName };
            // Port 1 answers nobody: a refusal must come before any connection.
            const string nowhere = "Host=127.0.0.1;Port=1;Username=nobody";

            var empty = await ChatOpsProcess.RunAsync(["run", "empty", "--target", nowhere], environment);
            Assert.Equal(2, empty.ExitCode);
            Assert.Contains("Refused:", empty.Error);
            Assert.Contains("empty.sql has no statements", empty.Error);

            var negative = await ChatOpsProcess.RunAsync(["run", "negative", "--target", nowhere], environment);
            Assert.Equal(2, negative.ExitCode);
            Assert.Contains("negative.runbook.json: thresholds.blocked-sessions.value is -5", negative.Error);
            Assert.DoesNotContain("   at ", negative.Error);   // a message, not a stack trace
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
