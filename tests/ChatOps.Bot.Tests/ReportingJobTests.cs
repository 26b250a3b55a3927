using ChatOps.Bot.Conversation;
using ChatOps.Bot.Local;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.State;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Status posts and the end of post-deployment monitoring as Quartz jobs on the state database (issue 13 §3): what a job does when it
/// fires (called directly, on a replica that does not own the deployment, with its clock moved on), and the jobs — the run job among
/// them — firing for real on two clustered replicas while the one running the deployment stops.
/// </summary>
public class ReportingJobTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly DeploymentId D1 = new(1);

    private static ReportingPolicy Policy(TimeSpan interval, TimeSpan immediate, TimeSpan extended) =>
        ReportingPolicy.Default with { Cadence = new StatusCadence { Interval = interval, Immediate = immediate, Extended = extended } };

    private async Task ResetStateAsync()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await StateDatabase.MigrateAsync(state.ConnectionString, CancellationToken.None);
    }

    private Task<QuartzDeploymentSchedule> ScheduleAsync() =>
        // Quartz's own check-in interval: a shorter one makes a node that stalls on a loaded machine look dead to the other.
        QuartzDeploymentSchedule.CreateAsync(state.ConnectionString, TimeProvider.System, NullLoggerFactory.Instance, CancellationToken.None);

    private Task<string> StateOfAsync() => state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1");

    /// <summary>Two replicas sharing one channel, each with its scheduler in the state database's cluster; started.</summary>
    private sealed class ClusteredReplicas : IAsyncDisposable
    {
        private ClusteredReplicas(StringWriter output, QuartzDeploymentSchedule firstSchedule, QuartzDeploymentSchedule secondSchedule, LocalBot first, LocalBot second)
        {
            (Output, FirstSchedule, SecondSchedule, First, Second) = (output, firstSchedule, secondSchedule, first, second);
        }

        public StringWriter Output { get; }
        public QuartzDeploymentSchedule FirstSchedule { get; }
        public QuartzDeploymentSchedule SecondSchedule { get; }
        public LocalBot First { get; }
        public LocalBot Second { get; }

        /// <summary>The replica holding D-1 and the other, with their scheduler nodes' ids.</summary>
        public (LocalBot Runner, string RunnerNode, LocalBot Other, string OtherNode) ByHolding() => First.Bot.Owner.Owned.Contains(1)
            ? (First, FirstSchedule.InstanceId, Second, SecondSchedule.InstanceId)
            : (Second, SecondSchedule.InstanceId, First, FirstSchedule.InstanceId);

        public static async Task<ClusteredReplicas> StartAsync(ReportingJobTests test, string stateDb, string targetDb, string migrations, ReportingPolicy policy)
        {
            var output = new StringWriter();
            var platform = new LocalChannel(output);
            var firstSchedule = await test.ScheduleAsync();
            var secondSchedule = await test.ScheduleAsync();
            var first = new LocalBot(stateDb, targetDb, migrations, Holders, channel: platform, output: output,
                reporting: policy, schedule: firstSchedule);
            var second = new LocalBot(stateDb, targetDb, migrations, Holders, channel: platform, output: output,
                reporting: policy, schedule: secondSchedule);
            await first.StartAsync();
            await second.StartAsync();
            return new ClusteredReplicas(output, firstSchedule, secondSchedule, first, second);
        }

        public async ValueTask DisposeAsync()
        {
            await Second.DisposeAsync();
            await First.DisposeAsync();
            await SecondSchedule.DisposeAsync();
            await FirstSchedule.DisposeAsync();
        }
    }

    /// <summary>The node whose scheduler is running D-1's run job now (Quartz's own record of fired jobs); null when none is.</summary>
    private Task<string?> RunJobNodeAsync() =>
        state.ScalarAsync<string?>("SELECT instance_name FROM chatops_state.qrtz_fired_triggers WHERE job_name = 'Run-1' AND state = 'EXECUTING'");

    private Task<long> OutboxCountAsync(string like) =>
        state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE message::text LIKE $1", like);

    [Fact]
    public async Task The_status_job_posts_when_due_and_schedules_the_next_slot_and_the_monitoring_ends_job_completes_on_a_replica_that_does_not_own_it()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("rj_quick", "CREATE TABLE rj_quick_done (id int);\n", rollback: "DROP TABLE IF EXISTS rj_quick_done;");
        var policy = Policy(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
        await using var ownerSchedule = await ScheduleAsync();
        await using var owner = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, reporting: policy, schedule: ownerSchedule);
        await owner.StartAsync();

        await owner.SayAsync("/migrate start rj_quick", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await Poll.UntilAsync(async () => await StateOfAsync() == "Monitoring", "the deployment to reach post-deployment monitoring", TimeSpan.FromMinutes(2));
        var until = (await owner.Bot.Store.MonitoringUntilAsync(D1, CancellationToken.None))!.Value;
        var monitoringStart = until - policy.Cadence.Extended;
        // The owner scheduled both jobs when it saw the deployment in monitoring: the first post on the post-deployment cadence, and the end.
        await Poll.UntilAsync(async () => await ownerSchedule.DueAsync(DeploymentJobKind.MonitoringEnds, D1, CancellationToken.None) is not null,
            "the monitoring-ends job to be scheduled");
        Assert.Equal(until, await ownerSchedule.DueAsync(DeploymentJobKind.MonitoringEnds, D1, CancellationToken.None));
        Assert.Equal(monitoringStart + policy.Cadence.Interval, await ownerSchedule.DueAsync(DeploymentJobKind.Status, D1, CancellationToken.None));
        Assert.Contains(1, owner.Bot.Owner.Owned);

        // Another replica (never started: it owns nothing, runs no loop); its jobs' work sees a clock 15 minutes on (its messages go out
        // at once: the owner's dispatcher sends them).
        var clock = new ShiftedClock();
        await using var otherSchedule = await ScheduleAsync();
        await using var other = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, reporting: policy, schedule: otherSchedule);
        var reporter = new DeploymentReporter(other.Bot.Store, other.Bot.Outbox, other.Bot.Cards, policy, other.Bot.Parts.Monitoring, clock, NullLogger.Instance);
        var work = new ReportingWork(other.Bot.Store, reporter, other.Bot.Parts.Targets, otherSchedule, clock, NullLogger<ReportingWork>.Instance);
        clock.Advance(monitoringStart + policy.Cadence.Interval - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        var statusLike = "%📊 D-1 · status%";
        var before = await OutboxCountAsync(statusLike);
        await work.RunAsync(DeploymentJobKind.Status, D1, CancellationToken.None);
        Assert.Equal(before + 1, await OutboxCountAsync(statusLike));
        var posted = (await owner.Bot.Store.StatusPostedAsync(D1, CancellationToken.None))!.Value;
        Assert.True((posted - clock.GetUtcNow()).Duration() < TimeSpan.FromSeconds(5), $"posted at {posted:O}, the replica's clock {clock.GetUtcNow():O}");
        Assert.Equal(monitoringStart + 2 * policy.Cadence.Interval, await otherSchedule.DueAsync(DeploymentJobKind.Status, D1, CancellationToken.None));
        Assert.Equal(1L, await OutboxCountAsync("%📊 D-1 · status%post-deployment monitoring · %"));

        // Fired again at once (a node's recovery, a second trigger): nothing is due, nothing is posted, the next slot stays.
        await work.RunAsync(DeploymentJobKind.Status, D1, CancellationToken.None);
        Assert.Equal(before + 1, await OutboxCountAsync(statusLike));
        Assert.Equal(monitoringStart + 2 * policy.Cadence.Interval, await otherSchedule.DueAsync(DeploymentJobKind.Status, D1, CancellationToken.None));

        // Fired before the end of monitoring (the end moved later): it schedules itself for the end and leaves the deployment alone.
        await work.RunAsync(DeploymentJobKind.MonitoringEnds, D1, CancellationToken.None);
        Assert.Equal("Monitoring", await StateOfAsync());
        Assert.Equal(until, await otherSchedule.DueAsync(DeploymentJobKind.MonitoringEnds, D1, CancellationToken.None));

        // The end of monitoring on this replica: the report and Completed; the owner, still watching, lets the deployment go.
        clock.Advance(until - clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        await work.RunAsync(DeploymentJobKind.MonitoringEnds, D1, CancellationToken.None);
        Assert.Equal("Completed", await StateOfAsync());
        await Poll.UntilAsync(() => Task.FromResult(owner.Bot.Owner.Owned.Count == 0), "the owner to let the completed deployment go");
        await owner.SettleAsync();
        Assert.Equal(1L, await OutboxCountAsync("%📈 D-1 · performance report%"));
        Assert.Contains("📝 D-1 · lessons learned", owner.Transcript);
        Assert.Contains("COMPLETED", (await owner.CardAsync(1))!.Status);

        // Once over, a status job that was still scheduled does nothing and schedules nothing.
        await work.RunAsync(DeploymentJobKind.Status, D1, CancellationToken.None);
        Assert.Equal(before + 1, await OutboxCountAsync(statusLike));
    }

    [Fact]
    public async Task On_two_clustered_replicas_the_run_is_a_job_on_the_node_holding_it_status_posts_go_once_per_slot_and_go_on_when_the_runner_stops_and_a_job_ends_monitoring()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("rj_slow", """
            CREATE TABLE rj_slow_a (id int);
            SELECT pg_sleep(8);
            CREATE TABLE rj_slow_b (id int);
            """, rollback: "DROP TABLE IF EXISTS rj_slow_a; DROP TABLE IF EXISTS rj_slow_b;");
        await using var replicas = await ClusteredReplicas.StartAsync(this, state.ConnectionString, target.ConnectionString, folder.Path, Policy(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)));
        var output = replicas.Output;

        await replicas.First.SayAsync("/migrate start rj_slow", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await Poll.UntilAsync(() => target.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(8)%')"),
            "the migration's long statement to run", TimeSpan.FromMinutes(2));
        await Poll.UntilAsync(async () => await OutboxCountAsync("%📊 D-1 · status%") >= 1, "a status post while it runs", TimeSpan.FromMinutes(1));

        // The replica running it stops (its scheduler with it): the other takes the deployment over, and the jobs, kept in the state
        // database, fire there.
        var (runner, runnerNode, other, otherNode) = replicas.ByHolding();
        // The deployment is driven inside its run job, on the node holding it.
        Assert.Equal(runnerNode, await RunJobNodeAsync());
        await runner.Bot.StopAsync();
        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("was interrupted and this replica took it over", StringComparison.Ordinal)),
            "the other replica to take the deployment over", TimeSpan.FromMinutes(1));
        Assert.Equal(otherNode, await RunJobNodeAsync());
        var postsWhilePaused = await OutboxCountAsync("%📊 D-1 · status%");
        await Poll.UntilAsync(async () => await OutboxCountAsync("%📊 D-1 · status%") > postsWhilePaused,
            "a status post from the remaining replica's scheduler while the deployment waits, paused", TimeSpan.FromMinutes(1));
        await other.SayAsync("as dan", "/migrate resume D-1");

        // Nobody but the monitoring-ends job completes it: the owner only watches while a scheduler is there.
        await Poll.UntilAsync(async () => await StateOfAsync() == "Completed", "post-deployment monitoring to end", TimeSpan.FromMinutes(2),
            async () => await StateOfAsync());
        await other.SettleAsync();
        await Poll.UntilAsync(async () => await state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.qrtz_triggers") == 0,
            "the last status job to find the deployment over and schedule nothing more", TimeSpan.FromMinutes(1));

        var transcript = output.ToString();
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'rj_slow_b'"));
        Assert.Equal(1L, await OutboxCountAsync("%📈 D-1 · performance report%"));
        Assert.Contains("📝 D-1 · lessons learned", transcript);
        Assert.True(await OutboxCountAsync("%📊 D-1 · status%post-deployment monitoring · %") >= 1, transcript);
        // Never two posts for one slot, though two replicas' schedulers fired jobs (a post each would make pairs milliseconds apart);
        // the interval is 2 s, and monitoring's slots count from its start, so a post may come 1.5 s after the run's last one.
        var posts = (await state.ScalarAsync<string>("""
            SELECT string_agg(extract(epoch FROM created_at)::text, ' ' ORDER BY id) FROM chatops_state.outbox WHERE message::text LIKE '%📊 D-1 · status%'
            """)).Split(' ').Select(t => TimeSpan.FromSeconds(double.Parse(t, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.True(posts.Count >= 3, $"{posts.Count} status posts");
        Assert.All(posts.Zip(posts.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(1), $"status posts at {pair.First} and {pair.Second}"));
    }
    [Fact]
    public async Task A_replica_whose_owner_lock_session_is_lost_stops_driving_and_the_other_takes_the_deployment_over()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("rj_lost", """
            CREATE TABLE rj_lost_a (id int);
            SELECT pg_sleep(15);
            CREATE TABLE rj_lost_b (id int);
            """, rollback: "DROP TABLE IF EXISTS rj_lost_a; DROP TABLE IF EXISTS rj_lost_b;");
        var output = new StringWriter();
        var platform = new LocalChannel(output);
        await using var first = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output);
        await using var second = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output);
        await first.StartAsync();
        await second.StartAsync();
        await first.SayAsync("/migrate start rj_lost", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await Poll.UntilAsync(() => target.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(15)%')"),
            "the migration's long statement to run", TimeSpan.FromMinutes(2));
        var runner = first.Bot.Owner.Owned.Contains(1) ? first : second;
        var other = ReferenceEquals(runner, first) ? second : first;

        // The owner lock's session ends under the runner (a failover, a DBA's pg_terminate_backend): the lock is gone with it.
        Assert.Equal(1L, await state.ScalarAsync<long>(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chatops:owner:D-1'"));
        await Poll.UntilAsync(() => Task.FromResult(!runner.Bot.Owner.Owned.Contains(1)), "the runner to notice and let the deployment go", TimeSpan.FromMinutes(1));
        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("was interrupted and this replica took it over", StringComparison.Ordinal)),
            "the other replica to take the deployment over", TimeSpan.FromMinutes(1));
        Assert.Contains(1, other.Bot.Owner.Owned);
        // The runner stopped its run: nothing of it goes on on the target.
        await Poll.UntilAsync(async () => !await target.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(15)%')"),
            "the runner's statement to be cancelled", TimeSpan.FromMinutes(1));

        await other.SayAsync("as dan", "/migrate resume D-1");
        await other.SettleAsync();
        Assert.Equal("Completed", await StateOfAsync());
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'rj_lost_b'"));
        Assert.Contains("↷ #1 line 1 not run again", output.ToString());
    }
    [Fact]
    public async Task A_deployment_in_post_deployment_monitoring_is_taken_over_when_its_replica_stops_and_monitoring_ends_once()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("rj_mon", "CREATE TABLE rj_mon_done (id int);\n", rollback: "DROP TABLE IF EXISTS rj_mon_done;");
        await using var replicas = await ClusteredReplicas.StartAsync(this, state.ConnectionString, target.ConnectionString, folder.Path, Policy(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)));
        var output = replicas.Output;

        await replicas.First.SayAsync("/migrate start rj_mon", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await Poll.UntilAsync(async () => await StateOfAsync() == "Monitoring" && (replicas.First.Bot.Owner.Owned.Contains(1) || replicas.Second.Bot.Owner.Owned.Contains(1)),
            "the deployment to be in post-deployment monitoring, held by a replica", TimeSpan.FromMinutes(2));
        var (runner, _, other, _) = replicas.ByHolding();
        await runner.Bot.StopAsync();

        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("👀 post-deployment monitoring goes on here", StringComparison.Ordinal)),
            "the other replica to take monitoring over and say so", TimeSpan.FromMinutes(1));
        Assert.Contains(1, other.Bot.Owner.Owned);
        await Poll.UntilAsync(async () => await StateOfAsync() == "Completed", "post-deployment monitoring to end", TimeSpan.FromMinutes(2),
            async () => await StateOfAsync());
        await other.SettleAsync();
        Assert.Equal(1L, await OutboxCountAsync("%📈 D-1 · performance report%"));
        Assert.Equal(1, output.ToString().Split("👀 post-deployment monitoring goes on here").Length - 1);
        Assert.Contains("post-deployment monitoring ended", await state.ScalarAsync<string>(
            "SELECT string_agg(what, ' | ' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1"));
    }
}
