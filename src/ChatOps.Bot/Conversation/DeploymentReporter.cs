using System.Collections.Concurrent;
using System.Text;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Monitoring;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// <c>ChatOps:Status:Interval</c>, <c>ChatOps:PostDeployment:Immediate|Extended</c> (the cadence) and <c>ChatOps:Thresholds:OnBreach|AskTimeout</c>
/// (what a rollback trigger does). An <see cref="StatusCadence.Extended"/> of zero means no post-deployment monitoring.
/// </summary>
public sealed record ReportingPolicy(StatusCadence Cadence, BreachPolicy OnBreach, TimeSpan AskTimeout)
{
    public static ReportingPolicy Default { get; } = new(new StatusCadence(), BreachPolicy.Ask, TimeSpan.FromMinutes(5));

    public bool MonitorsAfterDeployment => Cadence.Extended > TimeSpan.Zero;
}

/// <summary>
/// What people see of a deployment while it runs and after: the status post every <see cref="StatusCadence.Interval"/> (in the thread),
/// alerts on the rollback triggers (in the channel, calling on the DBA and DevOps/SRE Lead) and what the policy does about them, the
/// post-deployment monitoring and its final performance report. It reads the engine's events and its sampler; only the replica owning a
/// deployment reports on it, so nothing is posted twice.
/// </summary>
public sealed partial class DeploymentReporter(
    DeploymentStore store,
    Outbox outbox,
    DeploymentCards cards,
    ReportingPolicy policy,
    MonitoringOptions monitoring,
    TimeProvider time,
    ILogger logger)
{
    private readonly ConcurrentDictionary<int, RunRecord> _records = new();

    public ReportingPolicy Policy => policy;

    private DateTimeOffset Now => time.GetUtcNow();

    /// <summary>
    /// The deployment's record: the one this replica keeps while it owns the deployment, or as stored (what a replica taking over goes on
    /// from, and what another replica's <c>status</c> shows).
    /// </summary>
    /// <param name="keep">Kept here from now on (the owner's, fed by its events).</param>
    public async Task<RunRecord> RecordAsync(Deployment deployment, CancellationToken cancellationToken, bool keep = false)
    {
        if (_records.TryGetValue(deployment.Id.Number, out var known))
            return known;
        var record = RunRecord.FromJson(await store.MonitoringAsync(deployment.Id, cancellationToken));
        if (record.StatementsTotal == 0)
            record.StatementsTotal = SqlScript.Parse(Encoding.UTF8.GetString(deployment.Migration.Sql.Bytes)).Statements.Count;
        return keep ? _records.GetOrAdd(deployment.Id.Number, record) : record;
    }

    /// <summary>A rollback ended: the breaches still open ended that way (the report and <c>status</c> say so).</summary>
    public async Task RolledBackAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var record = await RecordAsync(deployment, cancellationToken, keep: true);
        string json;
        lock (record)
        {
            record.Monitoring.RolledBack(Now);
            json = record.ToJson();
        }
        await store.SetMonitoringAsync(deployment.Id, json, cancellationToken);
    }

    /// <summary>The deployment is no longer held here.</summary>
    public void Forget(DeploymentId id) => _records.TryRemove(id.Number, out _);

    /// <summary>One event of the run (or of post-deployment monitoring): kept, and a threshold event is told and acted on.</summary>
    public async Task ObserveAsync(Deployment running, RunbookEvent e, CancellationToken cancellationToken)
    {
        if (e is not (Sampled or ThresholdReported or PhaseFinished or ExecutionReported { Execution: StatementFinished or StatementSkipped } or Measured
            or CheckpointReached))
            return;
        var record = await RecordAsync(running, cancellationToken, keep: true);
        string json;
        lock (record)
        {
            // A checkpoint comes with every statement; only its rollback-ratio baseline is kept, stored when it changes.
            if (e is CheckpointReached c && c.Checkpoint.RollbackBaselinePercent == record.RollbackRatioBaselinePercent)
                return;
            record.Observe(e);
            json = record.ToJson();
        }
        await store.SetMonitoringAsync(running.Id, json, cancellationToken);
        if (e is ThresholdReported t)
            await ThresholdAsync(running, t.Threshold, cancellationToken);
    }

    private async Task ThresholdAsync(Deployment running, ThresholdEvent threshold, CancellationToken cancellationToken)
    {
        await using var scope = await store.BeginAsync(cancellationToken);
        if (await store.LoadForUpdateAsync(scope, running.Id, cancellationToken) is not { } deployment)
            return;
        var canRollBack = deployment.Migration.Rollback is not null
                          && deployment.State is DeploymentState.Running or DeploymentState.Paused or DeploymentState.Monitoring;
        switch (threshold)
        {
            case ThresholdBreached { Rule.Action: BreachAction.RollbackTrigger } breach:
            {
                var pending = await store.RollbackPromptUntilAsync(deployment.Id, cancellationToken, scope) > Now;
                var action = !canRollBack ? BreachPolicy.Alert : policy.OnBreach;
                var message = Alerts.Breached(deployment.Id, deployment.Migration.Id, breach, action, policy.AskTimeout, canRollBack);
                if (pending && action == BreachPolicy.Ask)
                {
                    // One prompt at a time: this alert points at the one pending, whose deadline and kind stand.
                    var until = (await store.RollbackPromptUntilAsync(deployment.Id, cancellationToken, scope))!.Value;
                    message = message with
                    {
                        Footer = await store.RollbackPromptRollsBackAsync(deployment.Id, cancellationToken, scope)
                            ? $"a rollback prompt is pending: ⏪ on it rolls back; unanswered, the bot rolls back at {until:HH:mm:ss}Z (/migrate resume {deployment.Id} keeps going)"
                            : $"a rollback prompt is pending until {until:HH:mm:ss}Z: ⏪ on it rolls back",
                    };
                }
                if (breach.Rule.Metric == Metric.BlockedAppSessions && deployment.State == DeploymentState.Monitoring)
                    message = message with { Fields = [.. message.Fields, new MessageField("counted", AfterDeploymentBlocked)] };
                var alert = await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, message, cancellationToken, deployment.Id.Number);
                var why = $"rollback trigger: {breach.Rule.Describe()}";
                if (action == BreachPolicy.Rollback && deployment.RollBackByItself(why, Now))
                {
                    await store.SaveAsync(scope, deployment, cancellationToken);
                    await cards.EditAsync(scope, deployment, cancellationToken);
                    await cards.ThreadAsync(scope, deployment, new ChatMessage($"⏪ {deployment.Id}: rolling back by itself ({why}; ChatOps:Thresholds:OnBreach is rollback)"), cancellationToken);
                }
                else if (action == BreachPolicy.Ask && !pending)
                {
                    // The alert is the prompt: ⏪ on it rolls back. A zero AskTimeout waits for a person however long it takes; otherwise the
                    // bot answers the prompt itself when it lapses.
                    var waitsForever = policy.AskTimeout == TimeSpan.Zero;
                    await cards.ArmRollbackPromptAsync(scope, deployment, alert, waitsForever ? TimeSpan.FromDays(3650) : policy.AskTimeout,
                        rollsBackWhenLapsed: !waitsForever, cancellationToken);
                }
                deployment.Ignored("bot", $"{why} ({breach.Value:0.###} since {breach.Since:HH:mm:ss}Z): {action.ToString().ToLowerInvariant()}", Now);
                await store.SaveAsync(scope, deployment, cancellationToken);
                break;
            }
            case ThresholdBreached breach:
            {
                var message = Alerts.Breached(deployment.Id, deployment.Migration.Id, breach, BreachPolicy.Alert, policy.AskTimeout, canRollBack);
                if (breach.Rule.Metric == Metric.BlockedAppSessions && deployment.State == DeploymentState.Monitoring)
                    message = message with { Fields = [.. message.Fields, new MessageField("counted", AfterDeploymentBlocked)] };
                await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, message, cancellationToken, deployment.Id.Number);
                break;
            }
            case ThresholdCleared cleared:
                await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, Alerts.Cleared(deployment.Id, deployment.Migration.Id, cleared),
                    cancellationToken, deployment.Id.Number);
                break;
            case MonitoringDegraded degraded:
                await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, Alerts.Degraded(deployment.Id, deployment.Migration.Id, degraded),
                    cancellationToken, deployment.Id.Number);
                break;
        }
        await scope.CommitAsync(cancellationToken);
    }

    /// <summary>What the blocked-sessions rule counts after the deployment (<see cref="ThresholdMonitor.AfterDeployment"/>), said in its alert.</summary>
    private const string AfterDeploymentBlocked =
        "after the deployment every blocked application session counts: no session of the migration is left to block anyone";

    /// <summary>
    /// Rollback-trigger prompts nobody answered in time (<c>AskTimeout</c>): the bot rolls back itself and says so. Any replica may do it:
    /// the deployment's row lock makes it happen once, and the replica owning the deployment then runs the rollback.
    /// </summary>
    /// <returns>Whether a rollback was started (the owner should look for work now).</returns>
    public async Task<bool> RollBackLapsedAsync(CancellationToken cancellationToken)
    {
        var started = false;
        foreach (var id in await store.LapsedRollbackPromptsAsync(Now, cancellationToken))
        {
            await using var scope = await store.BeginAsync(cancellationToken);
            if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { } deployment || !await store.RollbackPromptRollsBackAsync(id, cancellationToken, scope))
                continue;
            await store.SetRollbackPromptAsync(scope, id, null, null, cancellationToken);
            var why = $"nobody answered the rollback prompt within {Durations.Short(policy.AskTimeout)}";
            if (deployment.RollBackByItself(why, Now))
            {
                await store.SaveAsync(scope, deployment, cancellationToken);
                await cards.EditAsync(scope, deployment, cancellationToken);
                await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, Alerts.AutoRollback(deployment.Id, why, policy.AskTimeout), cancellationToken,
                    deployment.Id.Number);
                started = true;
                logger.LogWarning("{Deployment}: {Why}: rolling back", id, why);
            }
            await scope.CommitAsync(cancellationToken);
        }
        return started;
    }

    /// <summary>
    /// Posts the status in the thread whenever it is due while the deployment is running, paused or in post-deployment monitoring;
    /// returns when the deployment is over (the owner also stops it when it lets the deployment go). The last post's time is kept, so a
    /// replica taking over keeps the cadence. What a bot without a scheduler does; with one, the status job does it (<c>ReportingWork</c>).
    /// </summary>
    public async Task StatusLoopAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (await store.LoadAsync(id, cancellationToken) is not { IsActive: true } deployment)
                return;
            if (await StatusDueAsync(deployment, cancellationToken) is { } due && due <= Now)
                await PostStatusAsync(deployment, cancellationToken);
            try
            {
                // Short steps: a change of state (paused, monitoring, finished) changes what is due.
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// When the next status post is due (it may have passed): <see cref="StatusCadence.Interval"/> after the last one (or the start), on
    /// the post-deployment cadence once monitoring started; null when none is (not running, paused or monitored, or the report is next).
    /// </summary>
    public async Task<DateTimeOffset?> StatusDueAsync(Deployment deployment, CancellationToken cancellationToken, StateScope? scope = null)
    {
        if (Stage(deployment) is not { } stage)
            return null;
        var last = await store.StatusPostedAsync(deployment.Id, cancellationToken, scope) ?? StartedAt(deployment);
        return policy.Cadence.NextDue(stage, last, await MonitoringStartAsync(deployment, cancellationToken, scope));
    }

    /// <summary>The status as it is now, in the thread (and the time it was posted kept).</summary>
    public async Task PostStatusAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        await using var scope = await store.BeginAsync(cancellationToken);
        await PostStatusAsync(scope, deployment, cancellationToken);
        await scope.CommitAsync(cancellationToken);
    }

    /// <summary>The status as it is now, in the thread, with the time it was posted, in <paramref name="scope"/>'s transaction.</summary>
    /// <param name="slot">The slot it was due at: kept as the post's time when it is later than now (a job may fire a moment early), so
    /// the next slot is the one after it, never the same one again.</param>
    public async Task PostStatusAsync(StateScope scope, Deployment deployment, CancellationToken cancellationToken, DateTimeOffset? slot = null)
    {
        if (await StatusAsync(deployment, cancellationToken) is not { } message)
            return;
        await cards.ThreadAsync(scope, deployment, message, cancellationToken);
        var now = Now;
        await store.SetStatusPostedAsync(scope, deployment.Id, slot is { } due && due > now ? due : now, cancellationToken);
    }

    /// <summary>The status message for <paramref name="deployment"/> now; null when it is not running, paused or monitored.</summary>
    public async Task<ChatMessage?> StatusAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        if (Stage(deployment) is not { } stage)
            return null;
        var record = await RecordAsync(deployment, cancellationToken);
        var monitoringStart = await MonitoringStartAsync(deployment, cancellationToken);
        StatusSnapshot snapshot;
        lock (record)
        {
            if (monitoringStart is { } start)
                record.Monitoring.MonitoringStarted(start);
            snapshot = record.Monitoring.Status(deployment.Id, deployment.Migration.Id, stage, deployment.Phase, record.StatementsCompleted, record.StatementsTotal,
                StartedAt(deployment), Now, DeploymentOwner.Runbook(deployment.Migration).Rules(), policy.Cadence) with
            {
                SampleStaleAfter = monitoring.SampleInterval * 3,
            };
        }
        return StatusReport.Render(snapshot);
    }

    /// <summary>
    /// Post-deployment monitoring: the sampler and the rollback triggers that watch sampled metrics, until the period ends (then the
    /// performance report, and Completed) or the deployment leaves monitoring (a rollback, or the scheduler's monitoring-ends job).
    /// </summary>
    /// <param name="endsLate">Ends the period itself (<see cref="FinishMonitoringAsync"/>) this long after it is over: zero without a
    /// scheduler; with one, its monitoring-ends job ends it (on whichever replica it fires) and this is the backstop when it did not.</param>
    public async Task MonitorAsync(DeploymentId id, string target, CancellationToken cancellationToken, TimeSpan endsLate = default)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { State: DeploymentState.Monitoring })
            return;
        var until = await store.MonitoringUntilAsync(id, cancellationToken) ?? Now;
        // From here on the samples count as post-deployment monitoring's (the report keeps the run's and monitoring's apart).
        var deployment = (await store.LoadAsync(id, cancellationToken))!;
        var record = await RecordAsync(deployment, cancellationToken, keep: true);
        string json;
        lock (record)
        {
            record.Monitoring.MonitoringStarted(until - policy.Cadence.Extended);
            json = record.ToJson();
        }
        await store.SetMonitoringAsync(id, json, cancellationToken);
        if (await WatchAsync(id, target, DeploymentState.Monitoring, until + endsLate, cancellationToken))
        {
            if (endsLate > TimeSpan.Zero)
                logger.LogWarning("{Deployment}: post-deployment monitoring was due to end at {Until:O} and no job ended it; ending it here", id, until);
            await FinishMonitoringAsync(id, target, cancellationToken);
        }
    }

    /// <summary>
    /// A deployment paused with no run going (interrupted, and waiting for a person): the triggers are still watched — the database holds
    /// part of the migration — until someone resumes or rolls back.
    /// </summary>
    public Task WatchWhilePausedAsync(DeploymentId id, string target, CancellationToken cancellationToken) =>
        WatchAsync(id, target, DeploymentState.Paused, null, cancellationToken);

    /// <summary>
    /// Samples the target and watches the rollback triggers on sampled metrics while the deployment stays <paramref name="state"/>,
    /// until <paramref name="until"/> (when given). True when <paramref name="until"/> came; false when the state changed or it was stopped.
    /// </summary>
    private async Task<bool> WatchAsync(DeploymentId id, string target, DeploymentState state, DateTimeOffset? until, CancellationToken cancellationToken)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { } deployment || deployment.State != state)
            return false;
        // The sampled triggers only: query degradation and RLS overhead come from phase 4's benchmark rounds and probes, which are not
        // run again after the deployment (their last readings stand in the status posts and the report).
        var rules = DeploymentOwner.Runbook(deployment.Migration).Rules()
            .Where(r => r.Metric is Metric.AppLockWaitMs or Metric.BlockedAppSessions or Metric.RollbackRatioIncreasePoints).ToList();
        // The error-rate trigger compares with the ratio phase 1 read, as during the run; while paused the run is not over, and the
        // blocked-sessions trigger keeps its meaning of the run.
        var record = await RecordAsync(deployment, cancellationToken, keep: true);
        double? rollbackBaseline;
        lock (record)
            rollbackBaseline = record.RollbackRatioBaselinePercent;
        var thresholds = new ThresholdMonitor(rules, monitoring.SampleInterval, time) { AfterDeployment = state == DeploymentState.Monitoring };
        var readings = System.Threading.Channels.Channel.CreateUnbounded<RunbookEvent>(new() { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampling = Task.Run(async () =>
        {
            // The target may be unreachable for a while: monitoring goes on trying, and the gaps are reported as degraded monitoring.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await using var sampler = await MetricSampler.OpenAsync(target, $"{id}-monitor", time, stop.Token, monitoring.BlockedAfter);
                    await sampler.RunAsync(monitoring.SampleInterval, reading =>
                    {
                        readings.Writer.TryWrite(new Sampled(reading.At, reading));
                        var events = reading switch
                        {
                            MetricSample sample => thresholds.Observe(sample, rollbackBaseline),
                            SampleGap gap => thresholds.ObserveGap(gap),
                            _ => [],
                        };
                        foreach (var t in events)
                            readings.Writer.TryWrite(new ThresholdReported(t.At, t));
                    }, stop.Token);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    readings.Writer.TryWrite(new Sampled(Now, new SampleGap(Now, ex.Message)));
                    foreach (var t in thresholds.Tick())
                        readings.Writer.TryWrite(new ThresholdReported(t.At, t));
                    try
                    {
                        await Task.Delay(monitoring.SampleInterval, time, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
        }, CancellationToken.None);

        var finished = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                while (readings.Reader.TryRead(out var e))
                    await ObserveAsync(deployment, e, cancellationToken);
                if (await store.LoadAsync(id, cancellationToken) is not { } now || now.State != state)
                    break;   // resumed, rolled back (by a person or a trigger): the owner goes on with that
                if (Now >= until)
                {
                    finished = true;
                    break;
                }
                try
                {
                    await Task.WhenAny(readings.Reader.WaitToReadAsync(cancellationToken).AsTask(), Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken));
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await sampling;
        }
        return finished;
    }

    /// <summary>
    /// The end of post-deployment monitoring: the performance report and the lessons-learned prompt in the thread, Completed. Reads
    /// what monitoring stored, so any replica may do it; a deployment no longer in monitoring is left as it is (done already, rolled back).
    /// </summary>
    public async Task FinishMonitoringAsync(DeploymentId id, string target, CancellationToken cancellationToken)
    {
        var indexUsage = await IndexUsageAsync(id, target, cancellationToken);
        await using var scope = await store.BeginAsync(cancellationToken);
        if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { State: DeploymentState.Monitoring } deployment)
            return;
        var record = await RecordAsync(deployment, cancellationToken);
        var monitoringStart = await MonitoringStartAsync(deployment, cancellationToken) ?? Now;
        ChatMessage report;
        string summary;
        lock (record)
        {
            var benchmarks = record.BaselineMs.Where(b => record.AfterMs.ContainsKey(b.Key) && b.Value > 0)
                // Counted as the verdict's judge counted it: a slower time with the same plan and work is noise, not a regression.
                .Select(b => new BenchmarkComparison(b.Key, b.Value, record.AfterMs[b.Key], record.Regressed.GetValueOrDefault(b.Key))).ToList();
            report = new PerformanceReport(deployment.Id, deployment.Migration.Id, DeploymentState.Completed,
                record.PhaseDurations.Select(p => new PhaseDuration(Enum.Parse<RunbookPhase>(p.Key), p.Value)).OrderBy(p => p.Phase).ToList(),
                record.LockHolds.Select(h => new ExclusiveLockHold(h.Key, h.Value)).ToList(),
                record.Monitoring.DuringRun, record.Monitoring.DuringMonitoring, benchmarks, record.RlsBeforeMs, record.RlsAfterMs,
                indexUsage, record.Monitoring.Breaches, Now - monitoringStart)
            {
                Degradations = record.Monitoring.Degradations,
            }.Render();
            summary = record.Monitoring.ActiveBreaches.Count == 0 ? "no trigger breaching at the end" : $"{record.Monitoring.ActiveBreaches.Count} trigger(s) still breaching";
        }
        deployment.MonitoringFinished(summary, Now);
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        await cards.ThreadAsync(scope, deployment, report, cancellationToken);
        await cards.ThreadAsync(scope, deployment, PerformanceReport.LessonsLearned(deployment.Id), cancellationToken);
        await scope.CommitAsync(cancellationToken);
        logger.LogInformation("{Deployment}: post-deployment monitoring ended; completed", id);
    }

    /// <summary>How often each index the migration creates was scanned by now (best effort: the report says none when the target cannot say).</summary>
    private async Task<IReadOnlyList<IndexUsage>> IndexUsageAsync(DeploymentId id, string target, CancellationToken cancellationToken)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { } deployment)
            return [];
        var names = CreatedIndex().Matches(Encoding.UTF8.GetString(deployment.Migration.Sql.Bytes)).Select(m => m.Groups[1].Value.ToLowerInvariant()).Distinct().ToArray();
        if (names.Length == 0)
            return [];
        try
        {
            await using var connection = await ChatOps.Postgres.TargetSession.OpenAsync(target, $"chatops:{id}-report", cancellationToken);
            await using var command = new Npgsql.NpgsqlCommand(
                "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE indexrelname = ANY($1) ORDER BY indexrelname", connection)
            {
                Parameters = { new() { Value = names } },
            };
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            var usage = new List<IndexUsage>();
            while (await r.ReadAsync(cancellationToken))
                usage.Add(new IndexUsage(r.GetString(0), r.GetInt64(1)));
            return usage;
        }
        catch (Npgsql.NpgsqlException ex)
        {
            logger.LogWarning("{Deployment}: index usage could not be read for the report: {Error}", id, ex.Message);
            return [];
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?""?(\w+)""?",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex CreatedIndex();

    /// <summary>Where status posts stand for <paramref name="deployment"/>; null when none are made.</summary>
    private static StatusStage? Stage(Deployment deployment) => deployment.State switch
    {
        DeploymentState.Running => StatusStage.Running,
        DeploymentState.Paused => StatusStage.Paused,
        DeploymentState.Monitoring => StatusStage.PostDeploymentMonitoring,
        _ => null,
    };

    private static DateTimeOffset StartedAt(Deployment deployment) =>
        deployment.Audit.FirstOrDefault(a => a.What == "execution started")?.At ?? deployment.Audit[0].At;

    private async Task<DateTimeOffset?> MonitoringStartAsync(Deployment deployment, CancellationToken cancellationToken, StateScope? scope = null) =>
        deployment.State == DeploymentState.Monitoring && await store.MonitoringUntilAsync(deployment.Id, cancellationToken, scope) is { } until
            ? until - policy.Cadence.Extended
            : null;
}
