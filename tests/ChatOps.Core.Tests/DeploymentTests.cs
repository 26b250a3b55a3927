using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class DeploymentTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static PinnedFile File(string name, string sha) => new(name, sha, [1, 2, 3]);

    private static Deployment New(bool withRollback = true) => new(new DeploymentId(3),
        new PinnedMigration("m1", File("m1.sql", new string('a', 64)), withRollback ? File("m1.rollback.sql", new string('b', 64)) : null, null),
        "db:5432/app", "req", "C1", Holders, new SignOffPolicy(), T0);

    private static Deployment Approved()
    {
        var d = New();
        d.AwaitApproval(T0, checksPass: true);
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(1));
        return d;
    }

    [Fact]
    public void Four_sign_offs_approve_and_every_step_is_audited_with_who()
    {
        var d = Approved();
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.Equal("req", d.Audit[0].Who);
        Assert.Contains("requested m1 (sha256 aaaa…aaaa) on db:5432/app", d.Audit[0].What);
        Assert.Contains(d.Audit, a => a.Who == "bot" && a.What.StartsWith("approved (Database Administrator: dan", StringComparison.Ordinal));
        Assert.Equal(4, d.Audit.Count(a => a.What.StartsWith("sign-off:", StringComparison.Ordinal) && a.Counted));
    }

    [Fact]
    public void Failed_automated_checks_hold_approval_back_even_with_four_sign_offs()
    {
        var d = New();
        d.AwaitApproval(T0, checksPass: false);
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0);
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.True(d.SignOffs.IsApproved(T0));
    }

    [Fact]
    public void A_revoke_before_execution_withdraws_approval_and_after_it_changes_nothing()
    {
        var d = Approved();
        Assert.True(d.Revoke("olga", T0.AddMinutes(2)).Counted);
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        d.SignOff("olga", [], T0.AddMinutes(3));
        Assert.Equal(DeploymentState.Approved, d.State);

        d.Begin(T0.AddMinutes(4));
        var late = d.Revoke("olga", T0.AddMinutes(5));
        Assert.False(late.Counted);
        Assert.Contains("no longer changes anything", late.Why);
        Assert.Equal(DeploymentState.Running, d.State);
        Assert.Contains(d.Audit, a => !a.Counted && a.What.Contains("no longer changes anything", StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_changed_before_execution_voids_every_sign_off_and_says_why()
    {
        var d = Approved();
        d.FileChanged("m1.sql", new string('c', 64), T0.AddMinutes(2));
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.Empty(d.SignOffs.Signers);
        Assert.Contains("m1.sql changed on disk after signing (sha256 now cccc…cccc)", d.VoidedBecause);
    }

    [Fact]
    public void A_file_gone_voids_and_a_change_back_and_forth_voids_each_time_it_differs_anew()
    {
        var d = Approved();
        var sql = d.Migration.Sql;
        var b = new string('c', 64);

        Assert.False(d.FileOnDisk(sql, sql.Sha256, T0.AddMinutes(2)));   // as pinned: nothing to say
        Assert.True(d.FileOnDisk(sql, b, T0.AddMinutes(2)));             // A→B
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.False(d.FileOnDisk(sql, b, T0.AddMinutes(3)));            // B seen already: people sign again knowing it
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(4));
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.False(d.FileOnDisk(sql, b, T0.AddMinutes(5)));

        Assert.False(d.FileOnDisk(sql, sql.Sha256, T0.AddMinutes(6)));   // back to A: recorded, voids nothing
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.Contains(d.Audit, a => a.What == "m1.sql is back to its pinned bytes (sha256 aaaa…aaaa): a new change voids the sign-offs again");
        Assert.True(d.FileOnDisk(sql, b, T0.AddMinutes(7)));             // B again: new again
        Assert.Empty(d.SignOffs.Signers);

        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(8));
        Assert.True(d.FileOnDisk(d.Migration.Rollback!, null, T0.AddMinutes(9)));   // deleted
        Assert.Equal("m1.rollback.sql is gone (deleted from the migrations directory after signing): sign again", d.VoidedBecause);
        Assert.False(d.FileOnDisk(d.Migration.Rollback!, null, T0.AddMinutes(10)));
        Assert.Equal(3, d.Audit.Count(a => a.What.StartsWith("sign-offs void: ", StringComparison.Ordinal)));

        // Once execution started, what runs is the pinned bytes: a change concerns the next deployment.
        foreach (var p in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddMinutes(11));
        d.Begin(T0.AddMinutes(12));
        Assert.False(d.FileOnDisk(sql, new string('e', 64), T0.AddMinutes(13)));
        Assert.Equal(4, d.SignOffs.Signers.Count);
    }

    [Fact]
    public void An_expired_sign_off_is_said_once_naming_its_role_and_withdraws_an_approval_that_no_longer_holds()
    {
        var d = New();
        d.AwaitApproval(T0, checksPass: true);
        d.SignOff("dan", [], T0);
        foreach (var p in new[] { "sam", "olga", "pete" })
            d.SignOff(p, [], T0.AddHours(12));
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.Empty(d.SignOffsExpired(T0.AddHours(23)));

        var day = T0.AddHours(24);
        Assert.Equal(["dan's sign-off as Database Administrator (given 2026-11-28 02:00Z) expired at 2026-11-29 02:00Z (sign-offs are valid for 24h00m): " +
                      "Database Administrator signs again"], d.SignOffsExpired(day));
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.Equal("approval withdrawn: a sign-off expired", d.Audit[^1].What);
        Assert.Empty(d.SignOffsExpired(day.AddMinutes(1)));   // said once

        // dan signs again: his renewed sign-off counts, approves, and is said to expire in its turn, a day later.
        Assert.True(d.SignOff("dan", [], day.AddMinutes(2)).Counted);
        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.Equal(3, d.SignOffsExpired(day.AddHours(13)).Count);   // sam, olga and pete's, signed 12 hours after dan's first
        Assert.Equal(DeploymentState.AwaitingApproval, d.State);
        Assert.Empty(d.SignOffsExpired(day.AddHours(24)));
        Assert.Single(d.SignOffsExpired(day.AddHours(24).AddMinutes(2)));
    }

    [Fact]
    public void Pause_and_resume_need_a_role_and_the_right_state()
    {
        var d = Approved();
        Assert.False(d.Pause("mallory", [], T0).Done);
        Assert.Contains("needs the Database Administrator or Senior Backend Engineer or DevOps/SRE Lead or Product Owner role", d.Pause("mallory", [], T0).Why);
        Assert.False(d.Pause("pete", [], T0).Done);   // not running yet
        d.Begin(T0);
        Assert.True(d.Pause("pete", [], T0).Done);
        Assert.Equal(DeploymentState.Paused, d.State);
        Assert.False(d.Pause("pete", [], T0).Done);
        Assert.True(d.Resume("sam", [], T0).Done);
        Assert.Equal(DeploymentState.Running, d.State);
    }

    [Fact]
    public void Rollback_and_abort_need_the_dba_or_devops_lead_and_rollback_needs_a_confirmation()
    {
        var d = Approved();
        d.Begin(T0);
        var po = d.Rollback("pete", [], confirmed: true, T0);
        Assert.False(po.Done);
        Assert.Contains("needs the Database Administrator or DevOps/SRE Lead role", po.Why);
        Assert.False(d.Abort("sam", [], T0).Done);

        var unconfirmed = d.Rollback("dan", [], confirmed: false, T0);
        Assert.False(unconfirmed.Done);
        Assert.Contains("/migrate rollback D-3 --confirm", unconfirmed.Why);
        Assert.Equal(DeploymentState.Running, d.State);

        var confirmed = d.Rollback("olga", [], confirmed: true, T0);
        Assert.True(confirmed.Done);
        Assert.Contains("cancelling the forward run, then rolling back", confirmed.Why);
        Assert.Equal(DeploymentState.RollingBack, d.State);
        d.Finished(false, ["cancelled"], T0);   // the cancelled run's verdict does not undo the rollback's state
        Assert.Equal(DeploymentState.RollingBack, d.State);
        d.RollbackFinished(true, "3 effects verified", T0);
        Assert.Equal(DeploymentState.RolledBack, d.State);
        Assert.False(d.IsActive);
    }

    [Fact]
    public void Abort_before_execution_touches_nothing_and_during_it_rolls_nothing_back()
    {
        var early = New();
        early.AwaitApproval(T0, true);
        var before = early.Abort("dan", [], T0);
        Assert.True(before.Done);
        Assert.Equal("aborted: nothing ran", before.Why);
        Assert.Equal(DeploymentState.Aborted, early.State);

        var running = Approved();
        running.Begin(T0);
        running.EnterPhase(RunbookPhase.Migration, T0);
        Assert.Contains("nothing is rolled back", running.Abort("olga", [], T0).Why);
        Assert.Contains(running.Audit, a => a.What.Contains("aborted during phase 2 · execute migration", StringComparison.Ordinal));
        Assert.False(running.Abort("olga", [], T0).Done);
    }

    [Fact]
    public void A_verdict_completes_or_fails_and_a_migration_without_rollback_script_cannot_be_rolled_back()
    {
        var d = Approved();
        d.Begin(T0);
        d.Finished(false, ["index invalid"], T0);
        Assert.Equal(DeploymentState.Failed, d.State);
        Assert.Contains(d.Audit, a => a.What == "verdict: failed — index invalid");

        var noScript = new Deployment(new DeploymentId(4), new PinnedMigration("m2", File("m2.sql", new string('d', 64)), null, null),
            "db", "req", "C1", Holders, new SignOffPolicy(), T0);
        Assert.Contains("has no rollback script", noScript.Rollback("dan", [], true, T0).Why);
    }

    [Fact]
    public void Sign_offs_after_approval_or_on_a_finished_deployment_are_recorded_as_not_counted()
    {
        var d = Approved();
        var extra = d.SignOff("req", [], T0.AddMinutes(2));
        Assert.False(extra.Counted);
        Assert.Contains("is approved: sign-offs no longer change anything", extra.Why);
        Assert.False(d.Audit[^1].Counted);
    }
}
