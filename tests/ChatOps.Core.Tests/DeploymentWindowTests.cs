using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;

namespace ChatOps.Core.Tests;

/// <summary>A deployment scheduled into a maintenance window: approval does not start it, the window opens or postpones it.</summary>
public class DeploymentWindowTests
{
    private static readonly DateTimeOffset T0 = new(2027, 1, 14, 12, 0, 0, TimeSpan.Zero);

    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly ScheduledWindow Window = new(T0.AddHours(13), T0.AddHours(15), "UTC");

    private static Deployment Scheduled()
    {
        var d = new Deployment(new DeploymentId(7), new PinnedMigration("m1", new PinnedFile("m1.sql", new string('a', 64), [1]), null, null),
            "db:5432/app", "req", "C1", Holders, new SignOffPolicy(), T0);
        d.AwaitApproval(T0, checksPass: true);
        d.ScheduleInto(Window, "tonight", T0);
        return d;
    }

    [Fact]
    public void Approved_before_its_window_it_waits_and_may_not_begin_until_the_window_opens()
    {
        var d = Scheduled();
        foreach (var signer in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(signer, [], T0.AddHours(1));

        Assert.Equal(DeploymentState.Approved, d.State);
        Assert.True(d.WaitsForWindow);
        Assert.Throws<InvalidOperationException>(() => d.Begin(T0.AddHours(2)));

        d.OpenWindow(Window.Start);
        d.Begin(Window.Start);

        Assert.False(d.WaitsForWindow);
        Assert.Equal(DeploymentState.Running, d.State);
        Assert.Equal(Window.End, d.WindowEnd);
        Assert.Contains(d.Audit, a => a.What == "scheduled for the maintenance window tonight");
        Assert.Contains(d.Audit, a => a.What == "maintenance window open: execution starts");
    }

    [Fact]
    public void Running_when_the_window_ends_it_pauses_between_phases_and_says_why_before_the_end_it_goes_on()
    {
        var d = Scheduled();
        foreach (var signer in new[] { "dan", "sam", "olga", "pete" })
            d.SignOff(signer, [], T0.AddHours(1));
        d.OpenWindow(Window.Start);
        d.Begin(Window.Start);

        Assert.False(d.PauseAtWindowEnd(Window.End.AddMinutes(-1)));
        Assert.Equal(DeploymentState.Running, d.State);

        Assert.True(d.PauseAtWindowEnd(Window.End.AddSeconds(1)));
        Assert.Equal(DeploymentState.Paused, d.State);
        Assert.Contains(d.Audit, a => a.What.StartsWith("paused: the maintenance window ended at 03:00Z", StringComparison.Ordinal));
        Assert.False(d.PauseAtWindowEnd(Window.End.AddSeconds(2)));   // paused already: said once

        // A person may go on outside the window.
        Assert.True(d.Resume("dan", [], Window.End.AddMinutes(5)).Done);
    }

    [Fact]
    public void A_phase_may_start_before_the_window_s_end_and_not_after_it_and_always_without_a_window()
    {
        var d = Scheduled();

        Assert.True(d.MayStartPhase(Window.End.AddTicks(-1)));
        Assert.False(d.MayStartPhase(Window.End));
        var unscheduled = new Deployment(new DeploymentId(8), d.Migration, "db:5432/app", "req", "C1", Holders, new SignOffPolicy(), T0);
        Assert.True(unscheduled.MayStartPhase(DateTimeOffset.MaxValue));
        Assert.Null(unscheduled.WindowEnd);
    }

    [Fact]
    public void Postponed_it_waits_for_the_next_window_and_an_approval_whose_sign_offs_lapsed_is_withdrawn()
    {
        var d = Scheduled();
        d.SignOff("dan", [], T0);
        Assert.Equal([SignOffRole.SeniorBackendEngineer, SignOffRole.DevOpsSreLead, SignOffRole.ProductOwner], d.MissingRoles(T0));
        var next = Window with { Start = Window.Start.AddDays(1), End = Window.End.AddDays(1) };

        d.Postpone(next, "not approved", "tomorrow", Window.Start);

        Assert.Equal(next, d.Window);
        Assert.True(d.WaitsForWindow);
        Assert.Contains(d.Audit, a => a.What == "postponed to the maintenance window tomorrow: not approved");

        var lapsed = Scheduled();
        foreach (var signer in new[] { "dan", "sam", "olga", "pete" })
            lapsed.SignOff(signer, [], T0);
        lapsed.Postpone(next, "checks failing", "tomorrow", T0.AddDays(2));   // the sign-offs (valid 24 h) have lapsed by then
        Assert.Equal(DeploymentState.AwaitingApproval, lapsed.State);
    }
}
