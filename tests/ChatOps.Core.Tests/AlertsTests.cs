using ChatOps.Core.Conversation;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class AlertsTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 28, 9, 15, 0, TimeSpan.Zero);
    private static readonly DeploymentId D3 = new(3);
    private static readonly ThresholdRule Blocked = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "blocked-sessions");
    private static readonly ThresholdBreached Breach = new(At, Blocked, 11, At.AddSeconds(-30), [7, 9, 11]);
    private static readonly TimeSpan FiveMinutes = TimeSpan.FromMinutes(5);

    private static readonly Mention[] OnCall =
        [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)];

    [Fact]
    public void A_breach_names_the_rule_its_readings_over_the_window_and_since_when_and_calls_on_the_operators()
    {
        var message = Alerts.Breached(D3, "add_contact_rls", Breach, BreachPolicy.Ask, FiveMinutes, canRollBack: true);

        Assert.Equal("🚨 D-3: rollback trigger application sessions blocked by the migration > 5 for 30 s", message.Title);
        Assert.Equal("❌ 11 now · over the limit since 09:14:30Z (30 s)", message.Status);
        Assert.Equal(
            [
                new MessageField("readings", "7 → 9 → 11 over 30 s"),
                new MessageField("rule", "blocked-sessions: trigger > 5 for 30 s", Inline: true),
                new MessageField("migration", "add_contact_rls", Inline: true),
            ],
            message.Fields);
        Assert.Equal(OnCall, message.Mentions);
    }

    [Fact]
    public void Ask_gives_the_deadline_after_which_the_bot_rolls_back()
    {
        var message = Alerts.Breached(D3, "m", Breach, BreachPolicy.Ask, FiveMinutes, canRollBack: true);

        Assert.Equal("react ⏪ within 5m or the bot rolls back at 09:20Z", message.Footer);
    }

    [Fact]
    public void Ask_with_a_zero_timeout_waits_for_a_person()
    {
        var message = Alerts.Breached(D3, "m", Breach, BreachPolicy.Ask, TimeSpan.Zero, canRollBack: true);

        Assert.Equal("react ⏪ on this message to roll back · the bot waits for a person (ChatOps:Thresholds:AskTimeout is 0)", message.Footer);
    }

    [Fact]
    public void Rollback_rolls_back_at_once()
    {
        var message = Alerts.Breached(D3, "m", Breach, BreachPolicy.Rollback, FiveMinutes, canRollBack: true);

        Assert.Equal("rolling back now (ChatOps:Thresholds:OnBreach = rollback)", message.Footer);
    }

    [Fact]
    public void Alert_only_tells_and_says_how_to_roll_back()
    {
        var message = Alerts.Breached(D3, "m", Breach, BreachPolicy.Alert, FiveMinutes, canRollBack: true);

        Assert.Equal("no automatic action (ChatOps:Thresholds:OnBreach = alert) · /migrate rollback D-3 to roll back", message.Footer);
        Assert.Equal(OnCall, message.Mentions);
    }

    [Theory]
    [InlineData(BreachPolicy.Ask)]
    [InlineData(BreachPolicy.Rollback)]
    public void Without_a_rollback_script_no_rollback_is_promised(BreachPolicy policy)
    {
        var message = Alerts.Breached(D3, "add_contact_rls", Breach, policy, FiveMinutes, canRollBack: false);

        Assert.Equal("no automatic action: the bot cannot roll back add_contact_rls (no rollback script) · decide here what to do", message.Footer);
    }

    [Fact]
    public void A_rule_that_is_only_an_alert_never_rolls_back_whatever_the_policy()
    {
        var rule = Blocked with { Name = "blocked-warning", Value = 2, Action = BreachAction.Alert };
        var breach = Breach with { Rule = rule };

        var message = Alerts.Breached(D3, "m", breach, BreachPolicy.Rollback, FiveMinutes, canRollBack: true);

        Assert.Equal("⚠️ D-3: alert application sessions blocked by the migration > 2 for 30 s", message.Title);
        Assert.Equal("no automatic action: blocked-warning is an alert, not a rollback trigger · /migrate rollback D-3 to roll back", message.Footer);
    }

    [Fact]
    public void A_long_window_shows_its_first_and_latest_readings_and_how_many_are_left_out()
    {
        var lockWait = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "app-lock-wait");
        var readings = Enumerable.Range(0, 13).Select(i => 1000.0 + 100 * i).ToList();   // 60 s at 5 s: 13 readings
        var breach = new ThresholdBreached(At, lockWait, readings[^1], At.AddSeconds(-60), readings);

        var message = Alerts.Breached(D3, "m", breach, BreachPolicy.Ask, FiveMinutes, canRollBack: true);

        Assert.Equal("1000 ms → 1100 ms → … 1 more … → 1300 ms → 1400 ms → 1500 ms → 1600 ms → 1700 ms → 1800 ms → 1900 ms → 2000 ms → 2100 ms → 2200 ms over 1m",
            message.Fields[0].Value);
    }

    [Fact]
    public void A_recovered_trigger_is_announced_with_how_long_it_lasted()
    {
        var message = Alerts.Cleared(D3, "add_contact_rls", new ThresholdCleared(At.AddMinutes(7), Blocked, 2), Breach.Since);

        Assert.Equal("✅ D-3: recovered · application sessions blocked by the migration > 5 for 30 s", message.Title);
        Assert.Equal("✅ recovered at 09:22:00Z after 7m30s · now 2", message.Status);
        Assert.Empty(message.Mentions);
        Assert.Equal("monitoring goes on; status posts continue in the deployment's thread", message.Footer);
    }

    [Fact]
    public void Degraded_monitoring_says_since_when_nothing_was_seen_and_that_no_trigger_can_fire()
    {
        var message = Alerts.Degraded(D3, "m", new MonitoringDegraded(At, TimeSpan.FromSeconds(45), "no sample arrived"));

        Assert.Equal("⚠️ D-3: monitoring degraded — no samples for 45 s", message.Title);
        Assert.Equal("⚠️ the rollback triggers cannot see: no sample since 09:14:15Z", message.Status);
        Assert.Equal(new MessageField("why", "no sample arrived"), message.Fields[0]);
        Assert.Equal(OnCall, message.Mentions);
        Assert.StartsWith("no trigger fires or clears without samples", message.Footer, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unanswered_prompt_ends_in_a_rollback_that_is_announced()
    {
        var message = Alerts.AutoRollback(D3, "blocked-sessions: application sessions blocked by the migration > 5 for 30 s", FiveMinutes);

        Assert.Equal("⏪ D-3: nobody answered within 5m: rolling back", message.Title);
        Assert.Equal(OnCall, message.Mentions);
        Assert.Equal("blocked-sessions: application sessions blocked by the migration > 5 for 30 s", Assert.Single(message.Fields).Value);
    }

    [Theory]
    [InlineData(null, BreachPolicy.Ask)]
    [InlineData("", BreachPolicy.Ask)]
    [InlineData("ask", BreachPolicy.Ask)]
    [InlineData("Rollback", BreachPolicy.Rollback)]
    [InlineData(" ALERT ", BreachPolicy.Alert)]
    public void The_policy_is_read_from_configuration_text(string? text, BreachPolicy expected)
    {
        Assert.Equal(expected, BreachPolicies.Parse(text));
    }

    [Fact]
    public void An_unknown_policy_is_refused_with_the_key_a_guess_and_the_choices()
    {
        Assert.False(BreachPolicies.TryParse("rolback", out _, out var error));
        Assert.Equal("ChatOps:Thresholds:OnBreach is \"rolback\" (did you mean \"rollback\"?): use ask (post a rollback prompt; the default), " +
                     "rollback (roll back at once) or alert (only tell)", error);

        var thrown = Assert.Throws<FormatException>(() => BreachPolicies.Parse("page"));
        Assert.Equal("ChatOps:Thresholds:OnBreach is \"page\": use ask (post a rollback prompt; the default), rollback (roll back at once) or alert (only tell)",
            thrown.Message);
    }
}
