using ChatOps.Core.Conversation;

namespace ChatOps.Core.Tests;

public class DeploymentIdTests
{
    [Theory]
    [InlineData("D-3", 3)]
    [InlineData("d-3", 3)]
    [InlineData("D-03", 3)]
    [InlineData("D-2147483647", int.MaxValue)]
    public void Ids_are_read_and_normalised(string text, int number)
    {
        Assert.True(DeploymentId.TryParse(text, out var id));
        Assert.Equal(number, id.Number);
        Assert.Equal($"D-{number}", id.ToString());
    }

    [Theory]
    [InlineData("D-0")]
    [InlineData("D--3")]
    [InlineData("D-+3")]
    [InlineData("D-")]
    [InlineData("D3")]
    [InlineData("3")]
    [InlineData("E-3")]
    [InlineData("D-3x")]
    [InlineData("D-2147483648")]
    [InlineData("D-٣")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_is_refused(string? text) => Assert.False(DeploymentId.TryParse(text, out _));

    [Fact]
    public void A_deployment_number_is_positive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeploymentId(0));
}

public class MigrateHelpTests
{
    [Fact]
    public void Help_has_one_line_per_sub_command_in_the_issue_order()
    {
        Assert.Equal(
            ["help", "list", "plan", "start", "status", "approve", "revoke", "pause", "resume", "rollback", "abort", "history"],
            MigrateGrammar.SubCommands.Select(s => s.Name));
        Assert.All(MigrateGrammar.SubCommands, s =>
        {
            Assert.StartsWith($"/migrate {s.Name}", s.Usage);
            Assert.False(string.IsNullOrWhiteSpace(s.Summary));
        });
        var start = MigrateGrammar.SubCommands.Single(s => s.Name == "start");
        Assert.Equal("/migrate start <migration> [--target <name>] [--window]", start.Usage);
        Assert.Equal("/migrate rollback [D-n] [--confirm]", MigrateGrammar.SubCommands.Single(s => s.Name == "rollback").Usage);
    }

    [Fact]
    public void Plain_text_help_aligns_the_summaries_and_explains_a_missing_D_n()
    {
        var lines = MigrateGrammar.HelpAsPlainText().Split('\n');

        Assert.Equal(MigrateGrammar.SubCommands.Count + 1, lines.Length);
        // The longest usage is start's (55 characters); two spaces follow it.
        Assert.Equal("/migrate help" + new string(' ', 55 - 13 + 2) + "the sub-commands, one line each", lines[0]);
        Assert.Equal("/migrate start <migration> [--target <name>] [--window]  a new deployment D-n and its card for sign-off " +
                     "(--window: run it in the next maintenance window)", lines[3]);
        var summaryColumn = lines[0].IndexOf("the sub-commands", StringComparison.Ordinal);
        for (var i = 0; i < MigrateGrammar.SubCommands.Count; i++)
            Assert.Equal(summaryColumn, lines[i].IndexOf(MigrateGrammar.SubCommands[i].Summary, StringComparison.Ordinal));
        Assert.Equal(MigrateGrammar.DeploymentIdNote, lines[^1]);
    }
}

public class MigrateCommandTests
{
    private static MigrateCommand Parsed(string? text)
    {
        var parsed = MigrateGrammar.Parse(text);
        Assert.True(parsed.Succeeded, parsed.Error?.ToPlainText());
        Assert.Null(parsed.Error);
        return parsed.Command;
    }

    private static CommandError Refused(string text, CommandErrorKind kind)
    {
        var parsed = MigrateGrammar.Parse(text);
        Assert.False(parsed.Succeeded, $"'{text}' parsed as {parsed.Command}");
        Assert.Null(parsed.Command);
        Assert.Equal(kind, parsed.Error.Kind);
        return parsed.Error;
    }

    public static TheoryData<string, MigrateCommand> Commands => new()
    {
        { "help", new MigrateCommand.Help() },
        { "list", new MigrateCommand.List() },
        { "plan 20250803_add_tracking", new MigrateCommand.Plan("20250803_add_tracking") },
        { "plan 20250803_add_tracking.sql", new MigrateCommand.Plan("20250803_add_tracking") },
        { "start 2025_x", new MigrateCommand.Start("2025_x", null) },
        { "start 2025_x --target prod", new MigrateCommand.Start("2025_x", "prod") },
        { "start 2025_x --window", new MigrateCommand.Start("2025_x", null, Window: true) },
        { "start --WINDOW 2025_x --target prod", new MigrateCommand.Start("2025_x", "prod", Window: true) },
        { "start 2025_x \u2014window", new MigrateCommand.Start("2025_x", null, Window: true) },
        { "status", new MigrateCommand.Status(null) },
        { "status D-4", new MigrateCommand.Status(new DeploymentId(4)) },
        { "approve", new MigrateCommand.Approve(null) },
        { "approve D-4", new MigrateCommand.Approve(new DeploymentId(4)) },
        { "revoke", new MigrateCommand.Revoke(null) },
        { "revoke D-4", new MigrateCommand.Revoke(new DeploymentId(4)) },
        { "pause", new MigrateCommand.Pause(null) },
        { "pause D-4", new MigrateCommand.Pause(new DeploymentId(4)) },
        { "resume", new MigrateCommand.Resume(null) },
        { "resume D-4", new MigrateCommand.Resume(new DeploymentId(4)) },
        { "rollback", new MigrateCommand.Rollback(null, Confirmed: false) },
        { "rollback D-4", new MigrateCommand.Rollback(new DeploymentId(4), Confirmed: false) },
        { "rollback --confirm", new MigrateCommand.Rollback(null, Confirmed: true) },
        { "rollback D-4 --confirm", new MigrateCommand.Rollback(new DeploymentId(4), Confirmed: true) },
        { "rollback --confirm D-4", new MigrateCommand.Rollback(new DeploymentId(4), Confirmed: true) },
        { "abort", new MigrateCommand.Abort(null) },
        { "abort D-4", new MigrateCommand.Abort(new DeploymentId(4)) },
        { "history", new MigrateCommand.History(null) },
        { "history D-4", new MigrateCommand.History(new DeploymentId(4)) },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_sub_command_parses_with_and_without_the_slash_command(string text, MigrateCommand expected)
    {
        Assert.Equal(expected, Parsed(text));
        Assert.Equal(expected, Parsed("/migrate " + text));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_canonical_command_line_reads_back_to_the_same_command(string text, MigrateCommand expected)
    {
        _ = text;
        Assert.StartsWith("/migrate " + expected.Name, expected.ToCommandLine());
        Assert.Equal(expected, Parsed(expected.ToCommandLine()));
    }

    [Fact]
    public void Canonical_forms_are_normalised()
    {
        Assert.Equal("/migrate start 2025_x --target prod", Parsed("START  2025_x.sql\t--TARGET=prod").ToCommandLine());
        Assert.Equal("/migrate rollback D-7 --confirm", Parsed("rollback --confirm d-07").ToCommandLine());
        Assert.Equal("/migrate status", Parsed("status").ToCommandLine());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" \t ")]
    [InlineData(null)]
    [InlineData("/migrate")]
    [InlineData("  /MIGRATE  ")]
    public void An_empty_command_is_help(string? text) => Assert.Equal(new MigrateCommand.Help(), Parsed(text));

    [Theory]
    [InlineData("STATUS d-3")]
    [InlineData("Status D-3")]
    [InlineData("/Migrate sTaTuS d-3")]
    [InlineData("  status   D-3  ")]
    [InlineData("\tstatus\t\tD-3\t")]
    [InlineData("/migrate \t status \u00a0 D-3\r\n")]
    public void Case_and_whitespace_do_not_matter(string text) =>
        Assert.Equal(new MigrateCommand.Status(new DeploymentId(3)), Parsed(text));

    [Theory]
    [InlineData("start 2025_x --target prod")]
    [InlineData("start 2025_x --target=prod")]
    [InlineData("start --target prod 2025_x")]
    [InlineData("start --target=prod 2025_x")]
    [InlineData("start 2025_x --TARGET prod")]
    [InlineData("start\t2025_x\t--target\tprod")]
    [InlineData("start 2025_x \u2014target prod")]
    [InlineData("start 2025_x \u2013target=prod")]
    public void Target_is_read_in_every_form_and_position(string text) =>
        Assert.Equal(new MigrateCommand.Start("2025_x", "prod"), Parsed(text));

    [Theory]
    [InlineData("start x --target staging-eu_2", "staging-eu_2")]
    [InlineData("start x --target Production", "Production")]
    public void Target_names_keep_letters_digits_underscores_and_dashes(string text, string target) =>
        Assert.Equal(new MigrateCommand.Start("x", target), Parsed(text));

    [Theory]
    [InlineData("start 2025_x --target", "`--target` needs a target name")]
    [InlineData("start 2025_x --target=", "`--target` needs a target name")]
    [InlineData("start --target --confirm 2025_x", "`--target` needs a target name")]
    public void Target_without_a_name_is_refused(string text, string message)
    {
        var error = Refused(text, CommandErrorKind.MissingOptionValue);
        Assert.StartsWith(message, error.Message);
        Assert.Equal("start", error.SubCommand);
    }

    [Theory]
    [InlineData("start 2025_x --target prod/eu", "`prod/eu` is not a target name")]
    [InlineData("start 2025_x --target=pr;od", "`pr;od` is not a target name")]
    [InlineData("start 2025_x --target ../prod", "`../prod` is not a target name")]
    public void Target_with_odd_characters_is_refused(string text, string message) =>
        Assert.StartsWith(message, Refused(text, CommandErrorKind.BadOptionValue).Message);

    [Fact]
    public void Target_given_twice_is_refused() =>
        Assert.Equal("`--target` is given twice",
            Refused("start x --target a --target=b", CommandErrorKind.RepeatedOption).Message);

    [Theory]
    [InlineData("start 2025_x --confirm", "start", "rollback")]
    [InlineData("status --confirm", "status", "rollback")]
    [InlineData("abort D-2 --confirm", "abort", "rollback")]
    [InlineData("pause --confirm", "pause", "rollback")]
    [InlineData("rollback --target prod", "rollback", "start")]
    [InlineData("plan x --target prod", "plan", "start")]
    public void An_option_is_only_accepted_by_its_own_sub_command(string text, string subCommand, string owner)
    {
        var option = text.Split(' ').Single(w => w.StartsWith("--", StringComparison.Ordinal));
        var error = Refused(text, CommandErrorKind.OptionNotAllowed);
        Assert.Equal($"`{option}` is not an option of `{subCommand}` (it belongs to `{owner}`)", error.Message);
        Assert.Equal(subCommand, error.SubCommand);
    }

    [Fact]
    public void Confirm_takes_no_value_and_is_given_once()
    {
        Assert.Equal("`--confirm` takes no value", Refused("rollback --confirm=yes", CommandErrorKind.BadOptionValue).Message);
        Assert.Equal("`--confirm` is given twice", Refused("rollback --confirm --CONFIRM", CommandErrorKind.RepeatedOption).Message);
    }

    [Theory]
    [InlineData("start x --force", "`--force` is not an option of `start`", null)]
    [InlineData("start x --taget prod", "`--taget` is not an option of `start`", "--target")]
    [InlineData("rollback --confrim", "`--confrim` is not an option of `rollback`", "--confirm")]
    [InlineData("rollback -y", "`-y` is not an option of `rollback`", null)]
    [InlineData("status --verbose", "`status` takes no options, and `--verbose` is not one", null)]
    [InlineData("list --targt prod", "`list` takes no options, and `--targt` is not one", "--target")]
    public void Unknown_options_are_refused_with_a_suggestion_when_one_is_close(string text, string message, string? suggestion)
    {
        var error = Refused(text, CommandErrorKind.UnknownOption);
        Assert.Equal(message, error.Message);
        Assert.Equal(suggestion, error.Suggestion);
    }

    [Theory]
    [InlineData("plan", "plan")]
    [InlineData("start", "start")]
    [InlineData("start --target prod", "start")]
    [InlineData("/migrate PLAN  ", "plan")]
    public void A_missing_migration_name_is_named(string text, string subCommand)
    {
        var error = Refused(text, CommandErrorKind.MissingArgument);
        Assert.Equal($"`{subCommand}` needs a migration name", error.Message);
        Assert.Equal(subCommand, error.SubCommand);
        Assert.Equal([MigrateGrammar.SubCommands.Single(s => s.Name == subCommand)], error.Help);
    }

    [Fact]
    public void A_missing_argument_says_what_to_type()
    {
        Assert.Equal(
            "`start` needs a migration name\nusage: /migrate start <migration> [--target <name>] [--window]",
            Refused("start", CommandErrorKind.MissingArgument).ToPlainText());
    }

    [Theory]
    [InlineData("help me", "`help` takes no arguments, but got `me`")]
    [InlineData("list all", "`list` takes no arguments, but got `all`")]
    [InlineData("plan a b", "`plan` takes one migration name, but got another: `b`")]
    [InlineData("start a b --target prod", "`start` takes one migration name, but got another: `b`")]
    [InlineData("status D-1 D-2", "`status` takes at most one deployment id, but got another: `D-2`")]
    [InlineData("rollback D-1 --confirm now", "`rollback` takes at most one deployment id, but got another: `now`")]
    [InlineData("history D-1 D-1", "`history` takes at most one deployment id, but got another: `D-1`")]
    public void Extra_arguments_are_refused(string text, string message) =>
        Assert.Equal(message, Refused(text, CommandErrorKind.ExtraArgument).Message);

    [Theory]
    [InlineData("approve", "D-0", null)]
    [InlineData("revoke", "D-", null)]
    [InlineData("pause", "deployment", null)]
    [InlineData("resume", "D-1.5", null)]
    [InlineData("abort", "D-99999999999", null)]
    [InlineData("status", "3", "D-3")]
    [InlineData("history", "12", "D-12")]
    [InlineData("rollback", "2025_x", null)]
    public void A_bad_deployment_id_is_refused(string subCommand, string id, string? suggestion)
    {
        var error = Refused($"{subCommand} {id}", CommandErrorKind.BadDeploymentId);
        Assert.Equal($"`{id}` is not a deployment id: write D-<number>, e.g. D-3", error.Message);
        Assert.Equal(suggestion, error.Suggestion);
        Assert.Equal(subCommand, error.SubCommand);
    }

    [Theory]
    [InlineData("plan ../x")]
    [InlineData("plan a/b")]
    [InlineData("plan ..")]
    [InlineData("plan a\\b")]
    [InlineData("plan /etc/passwd")]
    [InlineData("start ../../etc/passwd --target prod")]
    [InlineData("start --target prod x/../../y")]
    public void Names_that_could_leave_the_migrations_folder_are_refused(string text)
    {
        var error = Refused(text, CommandErrorKind.BadMigrationName);
        Assert.Contains("path separators and '..' are not allowed", error.Message);
    }

    [Theory]
    [InlineData("plan semi;colon", "only letters")]
    [InlineData("plan x.rollback.sql", "rollback script")]
    [InlineData("start \"x\"", "only letters")]
    public void Other_bad_migration_names_are_refused_with_the_reason(string text, string reason) =>
        Assert.Contains(reason, Refused(text, CommandErrorKind.BadMigrationName).Message);

    [Theory]
    [InlineData("strat 2025_x", "strat", "start")]
    [InlineData("stat", "stat", "status")]
    [InlineData("STATSU D-1", "STATSU", "status")]
    [InlineData("hlep", "hlep", "help")]
    [InlineData("ls", "ls", "list")]
    [InlineData("rollbak", "rollbak", "rollback")]
    [InlineData("appr", "appr", "approve")]
    [InlineData("--help", "--help", "help")]
    [InlineData("histroy", "histroy", "history")]
    public void Unknown_sub_commands_get_a_suggestion_when_one_is_close(string text, string typed, string suggestion)
    {
        var error = Refused(text, CommandErrorKind.UnknownSubCommand);
        Assert.Equal($"`{typed}` is not a /migrate sub-command", error.Message);
        Assert.Equal(suggestion, error.Suggestion);
        Assert.Null(error.SubCommand);
        Assert.Equal(MigrateGrammar.SubCommands, error.Help);
    }

    [Theory]
    [InlineData("deploy 2025_x")]
    [InlineData("migrate start x")]
    [InlineData("cancel")]
    [InlineData("x")]
    [InlineData("re")]
    public void Unknown_sub_commands_far_from_any_get_no_suggestion(string text)
    {
        var error = Refused(text, CommandErrorKind.UnknownSubCommand);
        Assert.Null(error.Suggestion);
        Assert.Equal(MigrateGrammar.SubCommands.Count, error.Help.Count);
    }

    [Fact]
    public void An_unknown_sub_command_lists_them_all_in_plain_text()
    {
        var text = Refused("strat x", CommandErrorKind.UnknownSubCommand).ToPlainText().Split('\n');

        Assert.Equal("`strat` is not a /migrate sub-command — did you mean `start`?", text[0]);
        Assert.Equal(MigrateGrammar.SubCommands.Select(s => s.Usage), text.Skip(1).Select(l => l[..l.IndexOf("  ", StringComparison.Ordinal)].TrimEnd()));
    }

    [Fact]
    public void A_bare_number_is_suggested_as_its_deployment_id()
    {
        Assert.Equal(
            "`3` is not a deployment id: write D-<number>, e.g. D-3 — did you mean `D-3`?\nusage: /migrate status [D-n]",
            Refused("status 3", CommandErrorKind.BadDeploymentId).ToPlainText());
    }

    [Fact]
    public void Echoed_input_is_cut_and_keeps_its_backticks_balanced()
    {
        var error = Refused("`" + new string('x', 200), CommandErrorKind.UnknownSubCommand);
        Assert.Equal("`'" + new string('x', 39) + "…` is not a /migrate sub-command", error.Message);
    }

    [Fact]
    public void The_first_error_on_the_line_is_the_one_reported()
    {
        Assert.Equal(CommandErrorKind.OptionNotAllowed, Refused("start --confirm", CommandErrorKind.OptionNotAllowed).Kind);
        Assert.Equal(CommandErrorKind.UnknownOption, Refused("status D-x --nope", CommandErrorKind.UnknownOption).Kind);
    }
}

public class EditDistanceTests
{
    [Theory]
    [InlineData("", "", 0)]
    [InlineData("start", "start", 0)]
    [InlineData("", "abc", 3)]
    [InlineData("strat", "start", 2)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("abort", "abrot", 2)]
    public void Distances_are_levenshtein(string a, string b, int distance)
    {
        Assert.Equal(distance, EditDistance.Between(a, b));
        Assert.Equal(distance, EditDistance.Between(b, a));
    }
}
