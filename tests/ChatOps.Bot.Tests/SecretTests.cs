using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// A password-protected server (scram-sha-256): every verb that takes a target, with a wrong and a right password from
/// every source, in text, JSON and JSON logs — and not one byte of a password in any output.
/// </summary>
public class SecretTests(PasswordProtectedPostgres server) : IClassFixture<PasswordProtectedPostgres>
{
    private const string WrongPassword = "Wr0ng;Zqx=Kv7'x";

    // Whatever the test process has must not stand in for the source under test.
    private static readonly string[] PasswordSources = ["PGPASSWORD", "PGPASSFILE", "ConnectionStrings__Target"];

    private static readonly Dictionary<string, string> Fast = new() { ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500" };

    [LocalPostgresFact]
    public async Task A_wrong_password_exits_3_naming_user_and_server_for_every_verb_and_output_form()
    {
        var wrong = server.TargetWithoutPassword + $";Password=\"{WrongPassword.Replace("\"", "\"\"")}\"";
        var expected = $"authentication failed for user postgres on {server.Host}:{server.Port} — check the password (PGPASSWORD or a pgpass file)";
        var jsonLogs = new Dictionary<string, string>(Fast) { ["ChatOps__Logging__Json"] = "true" };
        var byPgPassword = new Dictionary<string, string>(Fast) { ["PGPASSWORD"] = WrongPassword };
        var attempts = new (string[] Arguments, Dictionary<string, string> Environment)[]
        {
            (["run", SeedMigration.Id, "--target", wrong], Fast),
            (["run", SeedMigration.Id, "--target", wrong, "--json"], Fast),
            (["run", SeedMigration.Id, "--target", wrong, "--json"], jsonLogs),
            (["run", SeedMigration.Id, "--target", server.TargetWithoutPassword], byPgPassword),
            (["rollback", SeedMigration.Id, "--target", wrong], Fast),
            (["rollback", SeedMigration.Id], new(jsonLogs) { ["ConnectionStrings__Target"] = wrong }),
            (["plan", SeedMigration.Id, "--target", wrong], Fast),
            (["plan", SeedMigration.Id, "--target", wrong, "--json"], jsonLogs),
            (["plan", SeedMigration.Id, "--target", $"postgresql://postgres:{Uri.EscapeDataString(WrongPassword)}@{server.Host}:{server.Port}/{PasswordProtectedPostgres.Database}"], Fast),
        };
        foreach (var (arguments, environment) in attempts)
        {
            var result = await ChatOpsProcess.RunAsync(arguments, environment, PasswordSources.Except(environment.Keys));
            Assert.True(result.ExitCode == 3, $"{arguments[0]}: exit {result.ExitCode}\n{result.Output}\n{result.Error}");
            Assert.Contains(expected, result.Error);
            Assert.DoesNotContain("   at ", result.Error);
            AssertNoSecret(result, WrongPassword, PasswordProtectedPostgres.Password);
        }
    }

    [LocalPostgresFact]
    public async Task No_password_anywhere_says_where_to_put_one()
    {
        var home = Directory.CreateTempSubdirectory("chatops-home-");   // no ~/.pgpass there
        try
        {
            var result = await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", server.TargetWithoutPassword],
                new Dictionary<string, string> { ["HOME"] = home.FullName }, PasswordSources);
            Assert.Equal(3, result.ExitCode);
            Assert.Contains($"no password for user postgres on {server.Host}:{server.Port}", result.Error);
            Assert.Contains("PGPASSWORD", result.Error);
            Assert.Contains("pgpass", result.Error);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    [LocalPostgresFact]
    public async Task The_right_password_from_the_target_pgpassword_or_a_pgpass_file_works_and_never_shows()
    {
        var home = Directory.CreateTempSubdirectory("chatops-home-");
        try
        {
            var pgpass = Path.Combine(home.FullName, "pgpass");
            await File.WriteAllTextAsync(pgpass, $"{server.Host}:{server.Port}:*:postgres:{PasswordProtectedPostgres.Password}\n");
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(pgpass, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var byPgPassword = new Dictionary<string, string>(Fast) { ["PGPASSWORD"] = PasswordProtectedPostgres.Password };
            var byPassfile = new Dictionary<string, string>(Fast) { ["PGPASSFILE"] = pgpass, ["ChatOps__Logging__Json"] = "true" };
            var inConfiguration = new Dictionary<string, string>(Fast) { ["ConnectionStrings__Target"] = server.TargetWithPassword };

            // plan reads the catalog: in the target, as a URI, from PGPASSWORD, from a pgpass file.
            foreach (var (arguments, environment) in new (string[], Dictionary<string, string>)[]
                     {
                         (["plan", SeedMigration.Id, "--target", server.TargetWithPassword], Fast),
                         (["plan", SeedMigration.Id, "--target", server.UriWithPassword, "--json"], Fast),
                         (["plan", SeedMigration.Id, "--target", server.TargetWithoutPassword], byPgPassword),
                         (["plan", SeedMigration.Id, "--target", server.TargetWithoutPassword, "--json"], byPassfile),
                         (["list"], inConfiguration),
                     })
            {
                var result = await ChatOpsProcess.RunAsync(arguments, environment, PasswordSources.Except(environment.Keys));
                Assert.True(result.ExitCode == 0, $"{string.Join(' ', arguments.Take(2))}: exit {result.ExitCode}\n{result.Output}\n{result.Error}");
                AssertNoSecret(result, PasswordProtectedPostgres.Password);
            }

            // The whole runbook and its rollback: the password in configuration, then from a pgpass file with JSON logs and events.
            var run = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id], inConfiguration, ["PGPASSWORD", "PGPASSFILE"]);
            Assert.True(run.ExitCode == 0, run.Output + run.Error);
            Assert.Contains("VERDICT: SUCCESS", run.Output);
            AssertNoSecret(run, PasswordProtectedPostgres.Password);

            var rollback = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", server.TargetWithoutPassword], byPassfile,
                ["PGPASSWORD", "ConnectionStrings__Target"]);
            Assert.True(rollback.ExitCode == 0, rollback.Output + rollback.Error);
            AssertNoSecret(rollback, PasswordProtectedPostgres.Password);

            var json = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", server.UriWithPassword, "--json"],
                new Dictionary<string, string>(Fast) { ["ChatOps__Logging__Json"] = "true" }, PasswordSources);
            Assert.True(json.ExitCode == 0, json.Output + json.Error);
            Assert.Contains("VerdictReached", json.Output);
            AssertNoSecret(json, PasswordProtectedPostgres.Password);

            var again = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", server.TargetWithPassword], Fast, PasswordSources);
            Assert.True(again.ExitCode == 0, again.Output + again.Error);
            AssertNoSecret(again, PasswordProtectedPostgres.Password);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    [LocalPostgresFact]
    public async Task A_password_with_unquoted_semicolon_and_equals_is_refused_quoting_no_part_of_it()
    {
        const string password = "Xq9;Leak=ThisPart";
        var result = await ChatOpsProcess.RunAsync(["plan", SeedMigration.Id, "--target", $"Host={server.Host};Port={server.Port};Username=postgres;Password={password}"],
            unset: PasswordSources);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("cannot be read", result.Error);
        AssertNoSecret(result, password);
    }

    /// <summary>No byte of any secret: whole, lower-cased, percent-encoded, or any piece between ';' and '='.</summary>
    private static void AssertNoSecret(ChatOpsProcess.Result result, params string[] secrets)
    {
        var printed = result.Output + "\n" + result.Error;
        foreach (var secret in secrets)
        {
            var forms = new[] { secret, Uri.EscapeDataString(secret), secret.Replace("\"", "\\\"") }
                .Concat(secret.Split([';', '=', '\'', '"', ' ', '@', '%'], StringSplitOptions.RemoveEmptyEntries).Where(f => f.Length >= 3));
            foreach (var form in forms)
                Assert.False(printed.Contains(form, StringComparison.OrdinalIgnoreCase), $"'{form}' (part of a password) was printed:\n{printed}");
        }
    }
}
