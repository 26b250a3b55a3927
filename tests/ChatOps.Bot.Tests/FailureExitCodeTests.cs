using System.Text;
using ChatOps.Bot.Cli;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Each failure before or while connecting, or while reading input, through the CLI: one clear message on standard
/// error, no stack trace, and the documented exit code (2 refused before touching the target, 3 busy or unreachable).
/// </summary>
public class FailureExitCodeTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    // Port 1 answers nobody: a refusal must come before any connection (exit 2, not 3).
    private const string Nowhere = "Host=127.0.0.1;Port=1;Username=nobody";

    private string Target(string? database = null, string? user = null)
    {
        var b = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        if (database is not null) b.Database = database;
        if (user is not null) b.Username = user;
        return b.ConnectionString;
    }

    private string HostAndPort => new NpgsqlConnectionStringBuilder(db.ConnectionString) is var b ? $"{b.Host}:{b.Port}" : "";

    private static void AssertOneClearMessage(ChatOpsProcess.Result result, int exitCode, string expected)
    {
        Assert.True(result.ExitCode == exitCode, $"exit {result.ExitCode}, expected {exitCode}\n{result.Output}\n{result.Error}");
        Assert.Contains(expected, result.Error);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.DoesNotContain("Exception", result.Error);
    }

    [Fact]
    public async Task An_unreachable_server_or_unknown_host_exits_3()
    {
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", Nowhere]), 3,
            "cannot reach PostgreSQL at 127.0.0.1:1: connection refused");
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", "Host=no-such-host.invalid;Username=u"]), 3,
            "cannot reach PostgreSQL at no-such-host.invalid:5432: the host name does not resolve");
    }

    [Fact]
    public async Task A_server_that_accepts_but_never_answers_exits_3()
    {
        // A listener that never speaks the protocol: the connect timeout (1 s) is Npgsql's, not a test clock.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", $"Host=127.0.0.1;Port={port};Username=u;Timeout=1"]), 3,
            $"PostgreSQL at 127.0.0.1:{port} did not answer in time");
    }

    [Fact]
    public async Task A_missing_database_exits_3_naming_it()
    {
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", Target(database: "no_such_db")]), 3,
            $"database \"no_such_db\" does not exist on {HostAndPort} — check Database= in the target");
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", Target(database: "no_such_db")]), 3,
            "database \"no_such_db\" does not exist");
    }

    [Fact]
    public async Task A_role_that_does_not_exist_exits_3()
    {
        AssertOneClearMessage(await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", Target(user: "no_such_role")]), 3,
            $"authentication failed for user no_such_role on {HostAndPort}: role \"no_such_role\" does not exist");
    }

    [Fact]
    public async Task No_free_connection_or_a_database_not_accepting_connections_exits_3()
    {
        var role = $"limited_{Guid.NewGuid():N}"[..20];
        var closed = $"closed_{Guid.NewGuid():N}"[..20];
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0");
        await db.ExecuteAsync($"CREATE DATABASE {closed} ALLOW_CONNECTIONS false");
        try
        {
            AssertOneClearMessage(await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", Target(user: role)]), 3,
                $"no connection slot free on {HostAndPort} (53300: too many connections for role \"{role}\")");
            AssertOneClearMessage(await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", Target(database: closed)]), 3,
                $"database \"{closed}\" is not currently accepting connections on {HostAndPort}");
        }
        finally
        {
            await db.ExecuteAsync($"DROP DATABASE {closed}");
            await db.ExecuteAsync($"DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task A_target_another_run_holds_exits_3_saying_who()
    {
        // Holds the run lock as a run's session would (TargetRunLock's key), for the length of the CLI run.
        await using var holder = await db.OpenAsync("chatops:other-run");
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(1128812368, hashtext(current_database()) & 2147483647)", holder))
            await take.ExecuteNonQueryAsync();
        var result = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", db.ConnectionString],
            new Dictionary<string, string> { ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500" });
        AssertOneClearMessage(result, 3, $"another migration run holds database {db.Name}: server session pid {holder.ProcessID} (chatops:other-run");
        Assert.Contains($"SELECT pg_terminate_backend({holder.ProcessID});", result.Error);
        // The connection goes back to a pool with its session: let the lock go, or the class's other runs would find the target busy.
        await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", holder);
        await release.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Settings_that_do_not_parse_are_all_listed_with_the_invalid_ones_and_exit_2()
    {
        var result = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", Nowhere], new Dictionary<string, string>
        {
            ["ChatOps__Execution__LockTimeout"] = "abc",
            ["ChatOps__Execution__StatementTimeout"] = "-00:01:00",
            ["ChatOps__Execution__IndexBuildWorkers"] = "many",
            ["ChatOps__Monitoring__SampleInterval"] = "5s",
            ["ChatOps__Monitoring__BlockedAfter"] = "00:10:00",
            ["ChatOps__Execution__LockTimout"] = "00:00:01",
            ["ChatOps__Logging__Json"] = "yes",
        });
        AssertOneClearMessage(result, 2, "The configuration is not valid:");
        Assert.Contains("ChatOps:Execution:LockTimeout is 'abc', not a duration: write hh:mm:ss", result.Error);
        Assert.Contains("(default 00:00:00.200)", result.Error);
        Assert.Contains("ChatOps:Execution:StatementTimeout is -00:01:00; set a positive duration", result.Error);
        Assert.Contains("ChatOps:Execution:IndexBuildWorkers is 'many', not a whole number", result.Error);
        Assert.Contains("ChatOps:Monitoring:SampleInterval is '5s', not a duration", result.Error);
        Assert.Contains("ChatOps:Monitoring:BlockedAfter is 00:10:00", result.Error);
        Assert.Contains("ChatOps:Execution:LockTimout is not a setting", result.Error);
        Assert.Contains("ChatOps:Logging:Json is 'yes', not true or false", result.Error);
    }

    [Fact]
    public async Task Bad_runbook_files_are_refused_naming_file_and_line_before_touching_the_target()
    {
        await WithMigrationsAsync(async (directory, environment) =>
        {
            foreach (var (name, runbook, expected) in new[]
                     {
                         ("malformed", "{\n  \"validations\": [\n  }\n", "malformed.runbook.json: line 3: not valid JSON"),
                         ("array", "[]", "array.runbook.json: line 1: a runbook file holds one JSON object"),
                         ("null", "null", "null.runbook.json: line 1: a runbook file holds one JSON object such as { \"validations\": [ … ] }, not null"),
                         ("typed", "{\n  \"benchmarks\": [\n    { \"name\": \"b\", \"sql\": 7 }\n  ]\n}", "typed.runbook.json: line 3, $.benchmarks[0].sql: expected a string"),
                     })
            {
                await File.WriteAllTextAsync(Path.Combine(directory, name + ".sql"), "CREATE INDEX CONCURRENTLY i ON t (c);\n");
                await File.WriteAllTextAsync(Path.Combine(directory, name + ".runbook.json"), runbook);
                var result = await ChatOpsProcess.RunAsync(["run", name, "--target", Nowhere], environment);
                AssertOneClearMessage(result, 2, "Refused: ");
                Assert.Contains(expected, result.Error);
            }
        });
    }

    [Fact]
    public async Task Unterminated_quotes_and_dollar_quotes_are_refused_with_file_and_line_and_nothing_runs()
    {
        await WithMigrationsAsync(async (directory, environment) =>
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "quote.sql"),
                "CREATE TABLE public.half_run (id int);\nINSERT INTO public.half_run VALUES (1);\nCOMMENT ON TABLE public.half_run IS 'never closed;\n");
            await File.WriteAllTextAsync(Path.Combine(directory, "dollar.sql"),
                "CREATE TABLE public.half_run (id int);\n\nDO $body$\nBEGIN\n  PERFORM 1;\nEND\n$bdy$;\n");
            await File.WriteAllTextAsync(Path.Combine(directory, "dollar.rollback.sql"), "DROP TABLE public.half_run;\nSELECT 'x\n");

            // Against the real target: a refusal before the first statement leaves no table behind.
            var quote = await ChatOpsProcess.RunAsync(["run", "quote", "--target", db.ConnectionString], environment);
            AssertOneClearMessage(quote, 2, $"Refused: {Path.Combine(directory, "quote.sql")}: line 3: unterminated string; nothing was run.");
            var dollar = await ChatOpsProcess.RunAsync(["run", "dollar", "--target", db.ConnectionString], environment);
            AssertOneClearMessage(dollar, 2, $"Refused: {Path.Combine(directory, "dollar.sql")}: line 3: unterminated dollar-quoted string $body$; nothing was run.");
            var rollback = await ChatOpsProcess.RunAsync(["rollback", "dollar", "--target", db.ConnectionString], environment);
            AssertOneClearMessage(rollback, 2, $"Refused: {Path.Combine(directory, "dollar.rollback.sql")}: line 2: unterminated string");
            Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'half_run'"));

            var plan = await ChatOpsProcess.RunAsync(["plan", "quote"], environment);
            Assert.Equal(2, plan.ExitCode);
            Assert.Contains("line 3: unterminated string", plan.Error);
        });
    }

    [Fact]
    public async Task A_file_that_is_not_utf8_is_refused_naming_the_byte_and_line()
    {
        await WithMigrationsAsync(async (directory, environment) =>
        {
            // "café" in Latin-1: 0xE9 starts no UTF-8 character here.
            var latin1 = Encoding.Latin1.GetBytes("-- Kontakte\nCOMMENT ON TABLE public.contacts IS 'caf\u00e9';\n");
            await File.WriteAllBytesAsync(Path.Combine(directory, "latin1.sql"), latin1);
            var offset = Array.IndexOf(latin1, (byte)0xE9);
            foreach (var verb in new[] { "run", "plan" })
            {
                var result = await ChatOpsProcess.RunAsync(verb == "run" ? ["run", "latin1", "--target", Nowhere] : ["plan", "latin1"], environment);
                AssertOneClearMessage(result, 2,
                    $"Refused: {Path.Combine(directory, "latin1.sql")} is not valid UTF-8: byte 0xE9 at offset {offset} (line 2, byte 41 of the line)");
            }
        });
    }

    [Fact]
    public async Task An_unexpected_error_is_one_line_and_exit_1_with_no_stack_trace_nor_secret()
    {
        var error = new StringWriter();
        var code = await ChatOpsCommandLine.GuardAsync(() => throw new InvalidOperationException("boom in the engine"), error, stackTraces: false);
        Assert.Equal(ExitCodes.Failed, code);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Unexpected error: InvalidOperationException: boom in the engine", lines[0]);
        Assert.Contains("Serilog__MinimumLevel__Default=Debug", lines[1]);
        Assert.Equal(2, lines.Length);

        var debug = new StringWriter();
        await ChatOpsCommandLine.GuardAsync(() => throw new InvalidOperationException("boom"), debug, stackTraces: true);
        Assert.Contains("   at ", debug.ToString());

        Assert.Equal("keyword not supported: '***'", SecretText.Redact("keyword not supported: 'cr=et99'", ["Host=h;Password=Se;cr=et99"]));
    }

    private static async Task WithMigrationsAsync(Func<string, Dictionary<string, string>, Task> body)
    {
        var directory = Directory.CreateTempSubdirectory("chatops-faults-");
        try
        {
            await body(directory.FullName, new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = directory.FullName });
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
