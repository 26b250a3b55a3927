using ChatOps.Bot.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using Microsoft.Extensions.Configuration;

namespace ChatOps.Bot.Tests;

public class BotSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static readonly (string, string)[] Minimal =
    [
        ("ConnectionStrings:State", "Host=s"), ("ConnectionStrings:Target", "Host=t"),
        ("ChatOps:Roles:DatabaseAdministrator:0", "dan"), ("ChatOps:Roles:SeniorBackendEngineer:0", "sam"),
        ("ChatOps:Roles:DevOpsLead", "olga, oscar"), ("ChatOps:Roles:ProductOwner:0", "pete"),
    ];

    [Fact]
    public void Roles_targets_approvals_and_permissions_are_read_with_their_defaults()
    {
        var (settings, problems) = BotSettings.Read(Config([.. Minimal, ("ChatOps:Targets:staging", "Host=st"), ("ChatOps:Approvals:ValidFor", "08:00:00"),
            ("ChatOps:Approvals:WatchInterval", "00:00:02"), ("ChatOps:Permissions:Rollback:0", "DatabaseAdministrator")]));
        Assert.Empty(problems);
        Assert.NotNull(settings);
        Assert.Equal([SignOffRole.DevOpsSreLead], settings.Roles.RolesOf("oscar", []));
        Assert.Equal(("Host=st", (string?)null), settings.Targets.Resolve("staging"));
        Assert.Contains("known: staging", settings.Targets.Resolve("prod").Error);
        Assert.Equal(TimeSpan.FromHours(8), settings.Approvals.Validity);
        Assert.False(settings.Approvals.AllowRequester);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.SignOffWatchInterval);
        Assert.Null(BotSettings.Read(Config(Minimal)).Settings!.SignOffWatchInterval);   // the watch's own default, 5 s
        Assert.Equal(["Local"], settings.Platforms);
        Assert.Equal([SignOffRole.DatabaseAdministrator], settings.Permissions.RolesFor(DeploymentAction.Rollback));
        Assert.Contains("needs the Database Administrator role", settings.Permissions.Refusal("olga", [], DeploymentAction.Rollback));
        Assert.Null(settings.Permissions.Refusal("olga", [], DeploymentAction.Abort));   // the default: DBA or DevOps/SRE Lead
    }

    [Theory]
    [InlineData(null, null, "Local")]
    [InlineData("xoxb-1", null, "Slack")]
    [InlineData(null, "d-token", "Discord")]
    [InlineData("xoxb-1", "d-token", "Slack,Discord")]
    public void Without_ChatOps_Platforms_a_platform_is_enabled_by_its_credentials(string? slackToken, string? discordToken, string expected)
    {
        var values = Minimal.ToList();
        if (slackToken is not null) values.Add(("Slack:BotToken", slackToken));
        if (discordToken is not null) values.Add(("Discord:BotToken", discordToken));

        var (settings, problems) = BotSettings.Read(Config([.. values]));

        Assert.Empty(problems);
        Assert.Equal(expected.Split(','), settings!.Platforms);
    }

    [Fact]
    public void A_platform_listed_without_its_token_is_a_problem_that_says_which_key_to_set()
    {
        var (settings, problems) = BotSettings.Read(Config([.. Minimal, ("ChatOps:Platforms", "local, slack")]));

        Assert.Null(settings);
        Assert.Contains(problems, p => p.Contains("ChatOps:Platforms lists Slack but Slack:BotToken is not set", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_listed_with_how_to_fix_it()
    {
        var (settings, problems) = BotSettings.Read(Config(("ChatOps:Roles:DBA:0", "x"), ("ChatOps:Approvals:ValidFor", "a day"),
            ("ChatOps:Approvals:WatchInterval", "-00:00:05"), ("ChatOps:Approvals:AllowRequester", "perhaps"), ("ChatOps:Permissions:Delete:0", "ProductOwner"), ("ChatOps:Platforms:0", "Teams")));
        Assert.Null(settings);
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Roles:DBA is not a role; the roles are DatabaseAdministrator", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("nobody holds Product Owner: set ChatOps:Roles:ProductOwner", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("no target database", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("no state database", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ValidFor is 'a day', not a positive duration", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("AllowRequester is 'perhaps'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("WatchInterval is '-00:00:05', not a positive duration", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Permissions:Delete is not an action", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Platforms lists 'Teams'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_role_entry_may_name_a_platform_group_and_an_empty_one_stops_start_up()
    {
        var (settings, problems) = BotSettings.Read(Config([.. Minimal, ("ChatOps:Roles:DatabaseAdministrator:1", "group:SDBA"),
            ("ChatOps:Roles:ProductOwner", "pete, role:400000000000000001")]));
        Assert.Empty(problems);
        Assert.NotNull(settings);
        Assert.Equal([SignOffRole.DatabaseAdministrator], settings.Roles.RolesOf("erin", ["SDBA"]));
        Assert.Empty(settings.Roles.RolesOf("erin", []));
        // Discord's role:<id> is read as group:<id>.
        Assert.Equal([SignOffRole.ProductOwner], settings.Roles.RolesOf("someone", ["400000000000000001"]));
        Assert.Contains("group:400000000000000001", settings.Roles.HoldersOf(SignOffRole.ProductOwner));
        Assert.Null(settings.Permissions.Refusal("erin", ["SDBA"], DeploymentAction.Rollback));

        (settings, problems) = BotSettings.Read(Config([.. Minimal.Where(m => m.Item1 != "ChatOps:Roles:DevOpsLead"), ("ChatOps:Roles:DevOpsLead", "group:"), ("ChatOps:Roles:ProductOwner:1", "group:  ")]));
        Assert.Null(settings);
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Roles:DevOpsLead lists 'group:', a group without an id: write group:<id>", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Roles:ProductOwner lists 'group:', a group without an id", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("nobody holds DevOps/SRE Lead", StringComparison.Ordinal));
    }

    [Fact]
    public void The_maintenance_window_is_absent_by_default_read_with_its_default_times_and_refused_with_every_problem()
    {
        Assert.Null(BotSettings.Read(Config(Minimal)).Settings!.MaintenanceWindow);

        var window = BotSettings.Read(Config([.. Minimal, ("ChatOps:MaintenanceWindow:TimeZone", "America/New_York")])).Settings!.MaintenanceWindow!;
        Assert.Equal((new TimeOnly(2, 0), new TimeOnly(4, 0), "America/New_York"), (window.Start, window.End, window.Zone.Id));

        var (settings, problems) = BotSettings.Read(Config([.. Minimal, ("ChatOps:MaintenanceWindow:Start", "25:00"),
            ("ChatOps:MaintenanceWindow:Zone", "UTC")]));
        Assert.Null(settings);
        Assert.Contains("ChatOps:MaintenanceWindow:Start is '25:00', not a time as HH:mm (00:00 to 23:59), e.g. 02:00", problems);
        Assert.Contains(problems, p => p.StartsWith("ChatOps:MaintenanceWindow:TimeZone is not set", StringComparison.Ordinal));
        Assert.Contains("ChatOps:MaintenanceWindow:Zone is no setting; the settings are Start, End and TimeZone", problems);
    }
}
