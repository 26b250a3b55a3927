using System.Collections.Concurrent;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Conversation;
using ChatOps.Postgres.State;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Quartz on the state database, with short real intervals (advancing a fake clock does not wake Quartz's scheduler thread): jobs
/// fire once, survive the scheduler that scheduled them, replace each other by kind and deployment, and fire on one node of a cluster.
/// </summary>
public class QuartzScheduleTests(EmptyPostgresDatabase state) : IClassFixture<EmptyPostgresDatabase>
{
    /// <summary>What fired, where.</summary>
    private sealed class Recorder(string node) : IScheduledWork
    {
        public static readonly ConcurrentQueue<(string Node, DeploymentJobKind Kind, DeploymentId Deployment, DateTimeOffset Due)> Fired = new();

        public Task RunAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset scheduledFor, CancellationToken cancellationToken)
        {
            Fired.Enqueue((node, kind, deployment, scheduledFor));
            return Task.CompletedTask;
        }
    }

    private async Task<QuartzDeploymentSchedule> CreateAsync(TimeSpan? misfireThreshold = null) =>
        await QuartzDeploymentSchedule.CreateAsync(state.ConnectionString, TimeProvider.System, NullLoggerFactory.Instance, CancellationToken.None,
            checkinInterval: TimeSpan.FromSeconds(1), misfireThreshold: misfireThreshold);

    private async Task ResetAsync()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await StateDatabase.MigrateAsync(state.ConnectionString, CancellationToken.None);
        Recorder.Fired.Clear();
    }

    private static IReadOnlyList<(string Node, DeploymentJobKind Kind, DeploymentId Deployment, DateTimeOffset Due)> FiredFor(int deployment) =>
        Recorder.Fired.Where(f => f.Deployment.Number == deployment).ToList();

    [Fact]
    public async Task A_job_due_in_a_second_fires_once_and_is_gone_afterwards()
    {
        await ResetAsync();
        await using var schedule = await CreateAsync();
        await schedule.StartAsync(new Recorder("a"), CancellationToken.None);
        var due = DateTimeOffset.UtcNow.AddSeconds(1.5);

        await schedule.ScheduleAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), due, CancellationToken.None);
        Assert.Equal(due.ToUnixTimeMilliseconds(), (await schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), CancellationToken.None))?.ToUnixTimeMilliseconds());
        // Quartz created its own tables, beside the bot's.
        Assert.True(await state.ScalarAsync<long>("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'chatops_state' AND table_name LIKE 'qrtz_%'") >= 10);

        await Poll.UntilAsync(() => Task.FromResult(FiredFor(1).Count > 0), "the job to fire");
        await Task.Delay(TimeSpan.FromSeconds(2));

        var fired = Assert.Single(FiredFor(1));
        Assert.Equal(DeploymentJobKind.WindowStart, fired.Kind);
        Assert.Equal(due.ToUnixTimeMilliseconds(), fired.Due.ToUnixTimeMilliseconds());
        Assert.Null(await schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(1), CancellationToken.None));
    }

    [Fact]
    public async Task Scheduling_the_same_kind_for_a_deployment_again_replaces_it_and_cancelling_removes_it()
    {
        await ResetAsync();
        await using var schedule = await CreateAsync();
        await schedule.StartAsync(new Recorder("a"), CancellationToken.None);
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var soon = DateTimeOffset.UtcNow.AddSeconds(1);

        await schedule.ScheduleAsync(DeploymentJobKind.Reminder, new DeploymentId(2), later, CancellationToken.None);
        await schedule.ScheduleAsync(DeploymentJobKind.Reminder, new DeploymentId(2), soon, CancellationToken.None);
        await schedule.ScheduleAsync(DeploymentJobKind.WindowStart, new DeploymentId(2), later, CancellationToken.None);
        await schedule.ScheduleAsync(DeploymentJobKind.WindowStart, new DeploymentId(3), soon, CancellationToken.None);
        Assert.True(await schedule.CancelAsync(DeploymentJobKind.WindowStart, new DeploymentId(3), CancellationToken.None));
        Assert.False(await schedule.CancelAsync(DeploymentJobKind.WindowStart, new DeploymentId(3), CancellationToken.None));

        await Poll.UntilAsync(() => Task.FromResult(FiredFor(2).Count > 0), "the reminder to fire");
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Equal(DeploymentJobKind.Reminder, Assert.Single(FiredFor(2)).Kind);
        Assert.Empty(FiredFor(3));
        Assert.Equal(later.ToUnixTimeMilliseconds(), (await schedule.DueAsync(DeploymentJobKind.WindowStart, new DeploymentId(2), CancellationToken.None))?.ToUnixTimeMilliseconds());
        Assert.Equal(1L, await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.qrtz_triggers"));   // D-2's window start, nothing else
    }

    [Fact]
    public async Task A_job_scheduled_by_one_scheduler_and_due_while_none_ran_fires_on_the_next_one_to_start()
    {
        await ResetAsync();
        var due = DateTimeOffset.UtcNow.AddSeconds(1);
        await using (var first = await CreateAsync())
            await first.ScheduleAsync(DeploymentJobKind.WindowStart, new DeploymentId(4), due, CancellationToken.None);   // never started
        await Task.Delay(TimeSpan.FromSeconds(3));   // due while no scheduler runs, and past the misfire threshold below

        await using var second = await CreateAsync(misfireThreshold: TimeSpan.FromSeconds(1));
        await second.StartAsync(new Recorder("second"), CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(FiredFor(4).Count > 0), "the missed job to fire on start-up");
        await Task.Delay(TimeSpan.FromSeconds(1));

        var fired = Assert.Single(FiredFor(4));
        Assert.Equal("second", fired.Node);
    }

    [Fact]
    public async Task Two_schedulers_in_the_cluster_fire_each_job_exactly_once()
    {
        await ResetAsync();
        await using var a = await CreateAsync();
        await using var b = await CreateAsync();
        await a.StartAsync(new Recorder("a"), CancellationToken.None);
        await b.StartAsync(new Recorder("b"), CancellationToken.None);
        Assert.NotEqual(a.InstanceId, b.InstanceId);
        await Poll.UntilAsync(async () => await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.qrtz_scheduler_state") == 2,
            "both nodes to check in");

        var due = DateTimeOffset.UtcNow.AddSeconds(2);
        for (var n = 100; n < 120; n++)
            await (n % 2 == 0 ? a : b).ScheduleAsync(DeploymentJobKind.WindowStart, new DeploymentId(n), due, CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(Recorder.Fired.Count(f => f.Deployment.Number >= 100) >= 20), "all twenty jobs to fire");
        await Task.Delay(TimeSpan.FromSeconds(2));

        var fired = Recorder.Fired.Where(f => f.Deployment.Number >= 100).ToList();
        Assert.Equal(20, fired.Count);
        Assert.Equal(20, fired.Select(f => f.Deployment).Distinct().Count());
    }
}
