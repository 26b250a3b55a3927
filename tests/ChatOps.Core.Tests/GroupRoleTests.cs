using ChatOps.Core.Approvals;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

/// <summary>Roles held through platform groups (<c>group:&lt;id&gt;</c> entries): signing, the matching, permissions, and restored sign-offs.</summary>
public class GroupRoleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    // DBA: dan, and the group SDBA; DevOps/SRE Lead: only the group SSRE; Product Owner: ana and pete directly.
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan", "group:SDBA" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "group:SSRE" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "ana", "pete" },
    });

    // What the platform says: erin is in SDBA, olga in SSRE, ana in SDBA (and Product Owner directly), everyone else in no group.
    private static readonly IReadOnlyDictionary<string, string[]> GroupsOf = new Dictionary<string, string[]>
    {
        ["erin"] = ["SDBA"],
        ["olga"] = ["SSRE", "SOTHER"],
        ["ana"] = ["SDBA"],
    };

    private static string[] Groups(string user) => GroupsOf.TryGetValue(user, out var groups) ? groups : [];

    private static SignOffBook Book(RoleHolders? holders = null) => new("req", holders ?? Holders, new SignOffPolicy());

    private static IEnumerable<IReadOnlyList<string>> Orders(IReadOnlyList<string> people) =>
        people.Count <= 1 ? [people] : people.SelectMany((p, i) => Orders(people.Where((_, j) => j != i).ToList()).Select(rest => (IReadOnlyList<string>)[p, .. rest]));

    [Fact]
    public void A_user_holds_a_role_directly_or_through_one_of_their_groups()
    {
        Assert.Equal([SignOffRole.DatabaseAdministrator], Holders.RolesOf("erin", ["SDBA"]));
        Assert.Empty(Holders.RolesOf("erin", []));                       // the same person, out of the group
        Assert.Empty(Holders.RolesOf("erin", ["SPROD"]));                // a group no role names
        Assert.Equal([SignOffRole.DatabaseAdministrator, SignOffRole.ProductOwner], Holders.RolesOf("ana", ["SDBA"]));
        Assert.Empty(Holders.RolesOf("SDBA", []));                       // a group id is not a user id
        Assert.Empty(Holders.RolesOf("group:SDBA", []));
        Assert.Equal("SDBA", RoleHolders.GroupOf("group:SDBA"));
        Assert.Null(RoleHolders.GroupOf("U123"));
        Assert.Null(RoleHolders.GroupOf("group:"));

        // An empty group: entry names nobody (the settings refuse it at start-up).
        var empty = new RoleHolders(new Dictionary<SignOffRole, IReadOnlySet<string>> { [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "group:" } });
        Assert.Empty(empty.RolesOf("group:", []));
        Assert.Empty(empty.RolesOf("erin", [""]));
    }

    [Fact]
    public void A_group_member_signs_for_the_groups_role_and_a_non_member_does_not_count()
    {
        var book = Book();
        var outsider = book.Sign("mallory", ["SPROD"], T0);
        Assert.False(outsider.Counted);
        Assert.Contains("holds none of the four roles", outsider.Why);

        var erin = book.Sign("erin", Groups("erin"), T0);
        Assert.True(erin.Counted);
        Assert.Contains("Database Administrator", erin.Why);
        Assert.Equal([SignOffRole.DatabaseAdministrator], book.Signers["erin"].Roles);

        foreach (var p in new[] { "sam", "olga", "pete" })
            Assert.True(book.Sign(p, Groups(p), T0.AddMinutes(1)).Counted);
        var assignment = book.Assignment(T0.AddMinutes(2));
        Assert.Equal("erin", assignment[SignOffRole.DatabaseAdministrator]);
        Assert.Equal("olga", assignment[SignOffRole.DevOpsSreLead]);
        Assert.True(book.IsApproved(T0.AddMinutes(2)));
    }

    [Fact]
    public void One_person_holding_one_role_through_a_group_and_another_directly_still_covers_one()
    {
        var book = Book();
        foreach (var p in new[] { "ana", "sam", "olga" })
            book.Sign(p, Groups(p), T0);
        Assert.Equal([SignOffRole.DatabaseAdministrator, SignOffRole.ProductOwner], book.Signers["ana"].Roles);
        Assert.Equal(3, book.Assignment(T0).Count);
        Assert.False(book.IsApproved(T0));

        // pete (Product Owner only) lets ana be the Database Administrator.
        book.Sign("pete", [], T0.AddMinutes(1));
        var assignment = book.Assignment(T0.AddMinutes(1));
        Assert.True(book.IsApproved(T0.AddMinutes(1)));
        Assert.Equal("ana", assignment[SignOffRole.DatabaseAdministrator]);
        Assert.Equal("pete", assignment[SignOffRole.ProductOwner]);
    }

    public static TheoryData<string[]> ApprovingSets => new()
    {
        // ana (DBA through SDBA, Product Owner directly) must be the Product Owner when erin or dan takes DBA.
        new[] { "ana", "erin", "sam", "olga" },
        new[] { "ana", "dan", "sam", "olga" },
        new[] { "ana", "pete", "sam", "olga" },
        new[] { "erin", "ana", "dan", "pete", "sam", "olga" },
    };

    [Theory]
    [MemberData(nameof(ApprovingSets))]
    public void Every_order_of_the_reactions_approves_when_roles_come_through_groups(string[] people)
    {
        foreach (var order in Orders(people))
        {
            var book = Book();
            for (var i = 0; i < order.Count; i++)
                Assert.True(book.Sign(order[i], Groups(order[i]), T0.AddMinutes(i)).Counted);

            var at = T0.AddMinutes(10);
            Assert.True(book.IsApproved(at), $"order {string.Join(", ", order)}");
            var assignment = book.Assignment(at);
            Assert.Equal(4, assignment.Values.Distinct().Count());
            Assert.All(assignment, a => Assert.Contains(a.Key, Holders.RolesOf(a.Value, Groups(a.Value))));
        }
    }

    [Fact]
    public void Restored_sign_offs_keep_the_roles_recorded_when_signing_whatever_the_configuration_says_now()
    {
        var signed = Book();
        foreach (var p in new[] { "erin", "sam", "olga" })
            signed.Sign(p, Groups(p), T0);

        // Since then the groups were dropped from the configuration, and erin and olga are in none of its lists.
        var now = new RoleHolders(new Dictionary<SignOffRole, IReadOnlySet<string>>
        {
            [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
            [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam" },
            [SignOffRole.DevOpsSreLead] = new HashSet<string> { "oscar" },
            [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
        });
        var restored = Book(now);
        restored.Restore(signed.Signers);
        Assert.Equal(3, restored.Assignment(T0).Count);
        Assert.Equal("erin", restored.Assignment(T0)[SignOffRole.DatabaseAdministrator]);
        Assert.Equal("olga", restored.Assignment(T0)[SignOffRole.DevOpsSreLead]);

        // A new sign-off is judged by the configuration as it is now; the revoke of a restored one needs no groups.
        Assert.False(restored.Sign("ana", ["SDBA"], T0.AddMinutes(1)).Counted);
        Assert.True(restored.Sign("pete", [], T0.AddMinutes(1)).Counted);
        Assert.True(restored.IsApproved(T0.AddMinutes(1)));
        Assert.True(restored.Revoke("erin", executionStarted: false).Counted);
        Assert.False(restored.IsApproved(T0.AddMinutes(1)));

        // The record wins over the lists: recorded as Product Owner only, dan does not cover DBA although the lists say so.
        var recorded = Book(now);
        recorded.Restore([new("dan", new SignOffRecord(T0, [SignOffRole.ProductOwner]))]);
        Assert.Equal(SignOffRole.ProductOwner, Assert.Single(recorded.Assignment(T0)).Key);
    }

    [Fact]
    public void Permissions_count_roles_held_through_groups()
    {
        var permissions = new DeploymentPermissions(Holders);
        Assert.Null(permissions.Refusal("olga", ["SSRE"], DeploymentAction.Rollback));
        Assert.Null(permissions.Refusal("erin", ["SDBA"], DeploymentAction.Abort));
        Assert.Contains("needs the Database Administrator or DevOps/SRE Lead role", permissions.Refusal("olga", [], DeploymentAction.Rollback));
        Assert.NotNull(permissions.Refusal("pete", ["SOTHER"], DeploymentAction.Rollback));
        Assert.Null(permissions.Refusal("pete", [], DeploymentAction.Start));
    }
}
