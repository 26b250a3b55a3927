using System.Collections.Concurrent;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// The local channel with platform groups (a hand-written fake of our own port): <see cref="GroupsOfAsync"/> answers from a
/// dictionary, as Slack's user groups or Discord's roles would, and remembers whom it was asked about.
/// </summary>
internal sealed class GroupsChannel(LocalChannel inner, IReadOnlyDictionary<string, string[]> groups) : WrappedChannel(inner)
{
    public ConcurrentQueue<string> Asked { get; } = new();

    public override Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken)
    {
        Asked.Enqueue(userId);
        return Task.FromResult<IReadOnlySet<string>>(groups.TryGetValue(userId, out var of) ? of.ToHashSet() : new HashSet<string>());
    }
}

/// <summary>Roles held through platform groups, through the whole bot: the group's member signs and rolls back, others do not.</summary>
public class GroupRoleBotTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    // Only the group SDBA holds Database Administrator: nobody holds it by user id.
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "group:SDBA" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly Dictionary<string, string[]> Groups = new()
    {
        ["erin"] = ["SDBA"],
        ["mallory"] = ["SSUPPORT"],
    };

    [Fact]
    public async Task A_group_members_sign_off_counts_a_non_members_does_not_and_the_member_may_roll_back()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("grp_add", "CREATE TABLE grp_done (id int);\n", rollback: "DROP TABLE IF EXISTS grp_done;");
        var output = new StringWriter();
        var local = new LocalChannel(output);
        var platform = new GroupsChannel(local, Groups);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: local, output: output, platform: platform);
        await bot.StartAsync();

        await bot.SayAsync("/migrate start grp_add", "react mallory ✅ D-1", "react erin ✅ D-1", "unreact erin ✅ D-1");
        Assert.Equal("AwaitingApproval", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(["req", "mallory", "erin"], platform.Asked);   // the start's permission, two ✅; the removed ✅ asks nothing

        await bot.SayAsync("react erin ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await bot.SettleAsync();

        var audit = await state.ScalarAsync<string>("SELECT string_agg(who || ': ' || what || CASE WHEN counted THEN '' ELSE ' (not counted)' END, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");
        Assert.Contains("mallory: sign-off: mallory holds none of the four roles (not counted)", audit);
        Assert.Contains("erin: sign-off: erin signed (Database Administrator)", audit);
        Assert.Contains("erin: revoke: erin revoked their sign-off", audit);
        Assert.True(audit.Contains("bot: approved (Database Administrator: erin, Senior Backend Engineer: sam, DevOps/SRE Lead: olga, Product Owner: pete)",
            StringComparison.Ordinal), audit);
        Assert.Equal("{DatabaseAdministrator}", await state.ScalarAsync<string>("SELECT roles::text FROM chatops_state.sign_offs WHERE deployment = 1 AND user_id = 'erin'"));
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'grp_done'"));

        // Rolling back needs the Database Administrator or DevOps/SRE Lead role: erin holds it through SDBA, mallory's group holds none.
        await bot.SayAsync("as mallory", "/migrate rollback D-1 --confirm", "as erin", "/migrate rollback D-1 --confirm");
        await bot.SettleAsync();

        Assert.Contains("mallory may not rollback: it needs the Database Administrator or DevOps/SRE Lead role", bot.Transcript);
        Assert.Equal("RolledBack", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'grp_done'"));
    }
}
