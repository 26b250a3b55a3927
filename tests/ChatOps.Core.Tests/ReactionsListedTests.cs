using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

/// <summary>
/// The card's ✅ listed again after a disconnect (issue 16 §2): a sign-off given by a ✅ that is gone is revoked, one given by
/// <c>approve</c> (or of unknown origin) stands, and whoever reacted meanwhile signs.
/// </summary>
public class ReactionsListedTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga", "group:SRE" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly Func<string, IReadOnlyCollection<string>> NoGroups = _ => [];

    private static Deployment Awaiting()
    {
        var d = new Deployment(new DeploymentId(5), new PinnedMigration("m1", new PinnedFile("m1.sql", new string('a', 64), [1]), null, null),
            "db:5432/app", "req", "C1", Holders, new SignOffPolicy(), T0);
        d.AwaitApproval(T0, checksPass: true);
        return d;
    }

    [Fact]
    public void A_sign_off_given_by_the_reaction_is_revoked_by_a_listing_without_it_and_the_audit_says_it_was_found_removed()
    {
        var d = Awaiting();
        d.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        d.SignOff("sam", [], T0.AddMinutes(2), SignOffGivenBy.Reaction);

        var reconciled = d.ReactionsListed(["sam"], NoGroups, T0.AddMinutes(10));

        Assert.Equal(["sam"], d.SignOffs.Signers.Keys);
        Assert.True(Assert.Single(reconciled.Removed).Counted);
        Assert.Empty(reconciled.Signed);
        var line = d.Audit[^1];
        Assert.Equal(("dan", true), (line.Who, line.Counted));
        Assert.StartsWith("revoke: the ✅ was found removed at reconciliation", line.What, StringComparison.Ordinal);
        Assert.Contains(SignOffRole.DatabaseAdministrator, d.MissingRoles(T0.AddMinutes(10)));
    }

    [Fact]
    public void A_sign_off_given_by_approve_or_of_unknown_origin_is_kept_without_a_reaction_and_approval_stands()
    {
        var d = Awaiting();
        d.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Command);
        d.SignOff("sam", [], T0.AddMinutes(1));   // unknown: stored before the bot recorded how
        d.SignOff("olga", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        d.SignOff("pete", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        Assert.Equal(DeploymentState.Approved, d.State);
        var audited = d.Audit.Count;

        var reconciled = d.ReactionsListed(["olga", "pete"], NoGroups, T0.AddMinutes(10));

        Assert.Equal(["dan", "olga", "pete", "sam"], d.SignOffs.Signers.Keys.Order());
        Assert.Equal(SignOffGivenBy.Command, d.SignOffs.Signers["dan"].GivenBy);
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.Equal((0, 0), (reconciled.Removed.Count, reconciled.Signed.Count));
        Assert.Equal(audited, d.Audit.Count);   // nothing to put right, nothing said
    }

    [Fact]
    public void Whoever_is_listed_and_had_not_signed_signs_by_the_reaction_through_their_groups_and_the_requester_may_not()
    {
        var d = Awaiting();
        d.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Command);

        var reconciled = d.ReactionsListed(["dan", "erin", "req", "sam"], u => u == "erin" ? ["SRE"] : [], T0.AddMinutes(10));

        Assert.Equal(["dan", "erin", "sam"], d.SignOffs.Signers.Keys.Order());
        Assert.Equal(SignOffGivenBy.Reaction, d.SignOffs.Signers["erin"].GivenBy);
        Assert.Equal([SignOffRole.DevOpsSreLead], d.SignOffs.Signers["erin"].Roles);
        Assert.Equal(SignOffGivenBy.Command, d.SignOffs.Signers["dan"].GivenBy);   // listed and signed already: untouched
        Assert.Equal([true, false, true], reconciled.Signed.Select(o => o.Counted));
        Assert.Contains(d.Audit, a => a.Who == "req" && !a.Counted && a.What.Contains("separation of duties", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missed_removal_withdraws_approval_before_a_missed_addition_approves_again()
    {
        var d = Awaiting();
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        Assert.Equal(DeploymentState.Approved, d.State);

        // pete's ✅ went; erin (DevOps/SRE Lead through a group) reacted: still not four roles.
        d.ReactionsListed(["dan", "sam", "olga", "erin"], u => u == "erin" ? ["SRE"] : [], T0.AddMinutes(10));

        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.Equal([SignOffRole.ProductOwner], d.MissingRoles(T0.AddMinutes(10)));
        Assert.Contains(d.Audit, a => a.Who == "bot" && a.What.StartsWith("approval withdrawn", StringComparison.Ordinal));
    }

    [Fact]
    public void After_execution_started_a_gone_reaction_is_only_recorded_and_only_once()
    {
        var d = Awaiting();
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        d.Begin(T0.AddMinutes(2));

        var first = d.ReactionsListed(["sam", "olga", "pete", "erin"], NoGroups, T0.AddMinutes(10));
        var again = d.ReactionsListed(["sam", "olga", "pete", "erin"], NoGroups, T0.AddMinutes(20));

        Assert.False(Assert.Single(first.Removed).Counted);
        Assert.Contains("after execution started", first.Removed[0].Why);
        Assert.Empty(first.Signed);   // a ✅ after the start signs nothing, and is not recorded at every reconnect
        Assert.Equal((0, 0), (again.Removed.Count, again.Signed.Count));
        Assert.Equal(4, d.SignOffs.Signers.Count);
        Assert.Equal(DeploymentState.Running, d.State);
        Assert.Single(d.Audit, a => a.Who == "dan" && a.What.StartsWith("revoke:", StringComparison.Ordinal));
    }

    [Fact]
    public void After_the_sign_offs_were_voided_a_listed_reaction_does_not_sign_again()
    {
        var d = Awaiting();
        d.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        d.FileChanged("m1.sql", new string('c', 64), T0.AddMinutes(2));

        // dan's ✅ from before the file changed is still on the card: the listing cannot tell it from a new one.
        var reconciled = d.ReactionsListed(["dan"], NoGroups, T0.AddMinutes(10));

        Assert.Empty(d.SignOffs.Signers);
        Assert.Empty(reconciled.Signed);
        Assert.Empty(d.ToSignFrom(["dan"]));
        Assert.Contains(d.Audit, a => a.Who == "dan" && !a.Counted && a.What.Contains("the sign-offs were voided", StringComparison.Ordinal));
    }

    [Fact]
    public void A_listing_read_before_a_live_reaction_and_handled_after_it_leaves_that_new_sign_off_alone()
    {
        var d = Awaiting();
        d.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        var listedAt = T0.AddMinutes(5);   // the listing is read: dan's ✅ is gone by then, sam has not reacted yet
        d.SignOff("sam", [], T0.AddMinutes(6), SignOffGivenBy.Reaction);   // sam's ✅ arrives over the Gateway, after the listing was read

        var reconciled = d.ReactionsListed([], NoGroups, T0.AddMinutes(7), listedAt);

        Assert.Equal(["sam"], d.SignOffs.Signers.Keys);
        Assert.Equal("dan", d.Audit.Single(a => a.What.StartsWith("revoke:", StringComparison.Ordinal)).Who);
        Assert.Single(reconciled.Removed);
        Assert.DoesNotContain(d.Audit, a => a.Who == "sam" && a.What.StartsWith("revoke:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_listing_read_before_a_live_removal_and_handled_after_it_does_not_sign_again_whoever_removed_their_reaction()
    {
        var d = Awaiting();
        d.SignOff("sam", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        var listedAt = T0.AddMinutes(5);   // the listing is read: sam's ✅, and pete's and olga's added while the bot was not listening
        d.Revoke("sam", T0.AddMinutes(6));    // then sam and pete take their ✅ away, heard live (pete's own ✅ had been missed)
        d.Revoke("pete", T0.AddMinutes(6));

        string[] listed = ["sam", "pete", "olga"];
        Assert.Equal(["olga"], d.ToSignFrom(listed, listedAt));
        var reconciled = d.ReactionsListed(listed, NoGroups, T0.AddMinutes(7), listedAt);

        Assert.Equal(["olga"], d.SignOffs.Signers.Keys);
        Assert.Equal(["olga signed (DevOps/SRE Lead)"], reconciled.Signed.Select(o => o.Why));
        Assert.Empty(reconciled.Removed);
    }

    [Fact]
    public void A_listing_without_the_time_it_was_read_stored_by_an_older_bot_has_no_such_guard()
    {
        var d = Awaiting();
        d.SignOff("sam", [], T0.AddMinutes(6), SignOffGivenBy.Reaction);
        d.Revoke("pete", T0.AddMinutes(6));

        var reconciled = d.ReactionsListed(["pete"], NoGroups, T0.AddMinutes(7), listedAt: null);

        Assert.Equal(["pete"], d.SignOffs.Signers.Keys);
        Assert.Equal(["sam revoked their sign-off"], reconciled.Removed.Select(o => o.Why));
    }
}
