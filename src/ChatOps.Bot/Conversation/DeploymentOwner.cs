using System.Collections.Concurrent;
using System.Text;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.History;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using ChatOps.Postgres.State;
using Npgsql;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Runs deployments: on every replica it looks for deployments that need work (approved, running, paused, rolling back), takes
/// each one it can own — a replica owns a deployment only while it holds that deployment's advisory lock on the state database,
/// so exactly one runs it and another takes over when it dies — and drives the engine: the runbook with its events in the card's
/// thread, pause/resume/abort through <see cref="ExecutionControl"/> as the state database says, the rollback runner. A deployment
/// found running with nobody holding it was interrupted: it is reported and waits, paused, for a person.
/// </summary>
public sealed class DeploymentOwner(
    DeploymentStore store,
    Outbox outbox,
    DeploymentCards cards,
    DeploymentReporter reporter,
    Targets targets,
    ExecutionOptions execution,
    MonitoringOptions monitoring,
    TimeProvider time,
    ILogger<DeploymentOwner> logger)
{
    // 'CHDO': a deployment's owner lock, (class, deployment number).
    private const int OwnerLock = 0x4348444F;
    private readonly ConcurrentDictionary<int, Task> _owned = new();
    private readonly ConcurrentDictionary<int, ExecutionControl> _controls = new();
    // Runs held between phases because their maintenance window ended, until the event writer has stored the pause.
    private readonly ConcurrentDictionary<int, bool> _heldForWindow = new();
    private readonly SemaphoreSlim _wake = new(0);
    private int _busy;
    // When each held deployment's reporting jobs were last made sure of.
    private readonly ConcurrentDictionary<int, DateTimeOffset> _reportingScheduled = new();
    // Deployments found with nobody holding them while their run job exists, and since when (a job that never comes is replaced).
    private readonly ConcurrentDictionary<int, DateTimeOffset> _unheldSince = new();
    // The sweep's stopping token while it runs (a run job drives a deployment until then); cancelled before the first sweep.
    private CancellationToken _sweeping = new(canceled: true);

    /// <summary>How often it looks for work when nobody wakes it (another replica's change, a dead replica's deployments).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a deployment nobody holds may wait for its existing run job before it is scheduled again; above the time the scheduler
    /// takes to recover a dead replica's job (its check-ins missed).
    /// </summary>
    public TimeSpan RunJobPatience { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the reporting jobs of a deployment held here are made sure of, besides on each change of its state.</summary>
    public TimeSpan ReportingCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long after its end the owner ends post-deployment monitoring itself when the scheduler's job has not.</summary>
    public TimeSpan MonitoringEndsBackstop { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the owner lock's session is asked whether it is alive (a lost session lets the deployment go).</summary>
    public TimeSpan LockCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where phase durations, lock holds, retries and monitoring samples are reported; nowhere when null.</summary>
    public BotMetrics? Metrics { get; init; }

    /// <summary>
    /// The status posts and the end of post-deployment monitoring as scheduled jobs, which this owner makes sure are scheduled; when
    /// null (no scheduler: the demo, a local session) it posts the status itself and ends monitoring itself.
    /// </summary>
    public ReportingWork? Reporting { get; init; }

    /// <summary>
    /// The scheduler: when there is one, a deployment nobody holds gets a run job (Quartz, clustered: it fires on one replica, and a
    /// replica that dies while holding the job has it recovered elsewhere) that takes the owner lock and drives the deployment; without
    /// one, the sweep takes it itself.
    /// </summary>
    public IDeploymentSchedule? Schedule { get; init; }

    /// <summary>Looks at the pinned files on disk right before an approved deployment starts; not at all when null.</summary>
    public PinnedFileCheck? Files { get; init; }

    /// <summary>True while a run, a rollback or a hand-over is in progress here (a deployment waiting, paused, for a person is not work).</summary>
    public bool Busy => Volatile.Read(ref _busy) > 0;

    /// <summary>The deployments this replica holds.</summary>
    public IReadOnlyCollection<int> Owned => _owned.Keys.ToList();

    /// <summary>Looks now rather than at the next sweep (a change was committed in this process).</summary>
    public void Wake() => _wake.Release();

    /// <summary>Sweeps until <paramref name="stopping"/>; the deployments it holds are let go (another replica takes them over).</summary>
    public Task RunAsync(CancellationToken stopping)
    {
        // Before this returns: a run job may fire as soon as the scheduler starts, and must find the owner sweeping.
        _sweeping = stopping;
        return Task.Run(() => SweepUntilAsync(stopping), CancellationToken.None);
    }

    private async Task SweepUntilAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stopping);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                logger.LogError(ex, "looking for deployments to run failed; trying again");
            }
            try
            {
                await _wake.WaitAsync(SweepInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(_owned.Values).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task SweepAsync(CancellationToken stopping)
    {
        // The runs this replica drives follow what the state database says, whatever state it is (an aborted run is no longer
        // "unfinished", and must still be told to stop).
        foreach (var (number, control) in _controls)
            await ApplyAsync(new DeploymentId(number), control, stopping);
        // A rollback trigger's prompt that nobody answered in time: the bot rolls back (the deployment becomes work for its owner).
        await reporter.RollBackLapsedAsync(stopping);
        // The reporting jobs of the deployments held here, looked at again now and then: one lost (it failed while the state database
        // was away, or a replica of an older release could not run it) is scheduled again.
        foreach (var number in _owned.Keys)
            if (time.GetUtcNow() - _reportingScheduled.GetValueOrDefault(number) >= ReportingCheckInterval)
                await ScheduleReportingAsync(new DeploymentId(number), stopping);
        foreach (var id in await store.UnfinishedAsync(stopping))
        {
            if (_owned.ContainsKey(id.Number) || await HeldElsewhereAsync(id, stopping))
            {
                _unheldSince.TryRemove(id.Number, out _);
                continue;   // held here, or by another replica (asked on a pooled connection: no session opened every second for it)
            }
            if (Schedule is { } schedule)
                await RequestRunAsync(schedule, id, stopping);   // the run job takes it, on whichever replica the scheduler fires it
            else
                await TakeAsync(id, stopping);
        }
    }

    /// <summary>
    /// The run job (a deployment nobody holds, found by a sweep): takes the deployment unless another replica holds it, and drives it
    /// here for as long as this replica holds it — the job lasts as long as the ownership. Returns at once when this replica is not
    /// sweeping (stopped, or stopping).
    /// </summary>
    public async Task RunJobAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        var stopping = _sweeping;
        if (stopping.IsCancellationRequested || cancellationToken.IsCancellationRequested)
            return;
        if (await TakeAsync(id, stopping) is not { } owned)
            return;
        try
        {
            await owned.WaitAsync(stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping: the job ends now (the scheduler's shutdown waits for it); the owner's own stop waits for the work to let go.
        }
    }

    /// <summary>
    /// A run job for <paramref name="id"/> now, unless there is one — waiting to fire, or running on a replica that died (the scheduler
    /// recovers it on another replica once the dead one misses its check-ins). One that has not taken the deployment after
    /// <see cref="RunJobPatience"/> is replaced: a deployment is never left to a job that does not come.
    /// </summary>
    private async Task RequestRunAsync(IDeploymentSchedule schedule, DeploymentId id, CancellationToken stopping)
    {
        var now = time.GetUtcNow();
        if (await schedule.ExistsAsync(DeploymentJobKind.Run, id, stopping))
        {
            var since = _unheldSince.GetOrAdd(id.Number, now);
            if (now - since < RunJobPatience)
                return;
            logger.LogWarning("{Deployment}: its run job has not taken it for {Waited}; scheduling it again", id, now - since);
        }
        _unheldSince[id.Number] = now;
        await schedule.ScheduleNowAsync(DeploymentJobKind.Run, id, stopping);
        logger.LogInformation("{Deployment}: nobody holds it; a run job is scheduled", id);
    }

    /// <summary>Takes the deployment's owner lock and starts driving it here; null when another replica took it first.</summary>
    private async Task<Task?> TakeAsync(DeploymentId id, CancellationToken stopping)
    {
        var session = await TargetSession.OpenAsync(LockSessionConnectionString(store.State.ConnectionString), $"chatops:owner:{id}", stopping);
        try
        {
            await using var claim = new NpgsqlCommand($"SELECT pg_try_advisory_lock({OwnerLock}, {id.Number})", session);
            if (!(bool)(await claim.ExecuteScalarAsync(stopping))!)
            {
                await session.DisposeAsync();
                return null;   // another replica (or another session here) holds it
            }
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
        // In the table before the work starts: work that ends at once must not leave a finished entry behind (never looked at again).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var owned = Task.Run(async () =>
        {
            // Held only while the lock's session is alive: a session lost (a failover, a terminated backend) means another replica may
            // take the deployment, so this one stops driving it at once, as if stopping.
            using var holding = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            var watching = WatchLockAsync(id, session, holding);
            try
            {
                await started.Task;
                await OwnAsync(id, holding.Token);
            }
            catch (Exception ex) when (!holding.IsCancellationRequested)
            {
                logger.LogError(ex, "{Deployment}: its owner stopped", id);
            }
            finally
            {
                _owned.TryRemove(id.Number, out _);
                _reportingScheduled.TryRemove(id.Number, out _);
                await holding.CancelAsync();
                await watching;
                await session.DisposeAsync();   // the lock goes with the session: another replica may take the deployment
            }
        }, CancellationToken.None);
        // Only the session holding the lock gets here, and the entry of an earlier holding is gone before its session let the lock go.
        _owned[id.Number] = owned;
        started.SetResult();
        return owned;
    }

    /// <summary>
    /// The owner lock's session, with the server told to notice a vanished replica within about 25 s (TCP keepalives: a host that died
    /// without closing its connection would otherwise keep the lock for the operating system's two hours).
    /// </summary>
    private static string LockSessionConnectionString(string state)
    {
        var builder = ConnectionStrings.Parse(state);
        builder.Options = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3" +
                          (string.IsNullOrWhiteSpace(builder.Options) ? "" : " " + builder.Options);
        return builder.ConnectionString;
    }

    /// <summary>Asks the lock's session every <see cref="LockCheckInterval"/> whether it is alive; cancels <paramref name="holding"/> when not.</summary>
    private async Task WatchLockAsync(DeploymentId id, NpgsqlConnection session, CancellationTokenSource holding)
    {
        while (!holding.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(LockCheckInterval, time, holding.Token);
                await using var ping = new NpgsqlCommand("SELECT 1", session) { CommandTimeout = (int)Math.Ceiling(LockCheckInterval.TotalSeconds) + 5 };
                await ping.ExecuteScalarAsync(holding.Token);
            }
            catch (OperationCanceledException) when (holding.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                logger.LogError("{Deployment}: its owner lock's session was lost ({Error}); this replica lets it go for another to take over", id, ex.Message);
                await holding.CancelAsync();
                return;
            }
        }
    }

    /// <summary>Whether another session holds the deployment's owner lock in the state database.</summary>
    private Task<bool> HeldElsewhereAsync(DeploymentId id, CancellationToken cancellationToken) =>
        store.State.ScalarAsync<bool>("""
            SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = $1::oid AND objid = $2::oid)
            """, cancellationToken, (long)OwnerLock, (long)id.Number);

    /// <summary>What the state database says, applied to the run this replica is driving.</summary>
    private async Task ApplyAsync(DeploymentId id, ExecutionControl control, CancellationToken cancellationToken)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { } deployment)
            return;
        switch (deployment.State)
        {
            case DeploymentState.Paused when !control.IsPaused:
                control.Pause();
                break;
            case DeploymentState.Running when control.IsPaused && !_heldForWindow.ContainsKey(id.Number):
                control.Resume();
                break;
            case DeploymentState.Aborted when !control.IsStopRequested:
                control.StopAtBoundary();   // the running statement finishes; nothing more starts, nothing is rolled back
                break;
            case DeploymentState.RollingBack when !control.IsCancelRequested:
                control.Cancel();   // never both at once: the forward run ends now, then the rollback runs
                break;
        }
    }

    private async Task OwnAsync(DeploymentId id, CancellationToken stopping)
    {
        // Without a scheduler, the status posts run beside whatever the deployment is doing, for as long as this replica holds it.
        using var holding = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var status = Reporting is null ? Task.Run(() => reporter.StatusLoopAsync(id, holding.Token), CancellationToken.None) : Task.CompletedTask;
        try
        {
            await DriveAsync(id, stopping);
        }
        finally
        {
            await holding.CancelAsync();
            await status.ContinueWith(_ => { }, TaskScheduler.Default);
            reporter.Forget(id);
        }
    }

    private async Task DriveAsync(DeploymentId id, CancellationToken stopping)
    {
        var takenOver = true;
        DeploymentState? scheduledFor = null;
        while (!stopping.IsCancellationRequested)
        {
            var deployment = await store.LoadAsync(id, stopping);
            // A new state may call for status posts, or for monitoring's end (tried again on the next pass when it failed).
            if (deployment?.State is { } state && state != scheduledFor && await ScheduleReportingAsync(id, stopping))
                scheduledFor = state;
            switch (deployment?.State)
            {
                // Maintenance window (issue 14 §5): approved early, it waits for its window to open (the window-start job opens it).
                case DeploymentState.Approved when deployment.WaitsForWindow:
                    return;
                case DeploymentState.Approved:
                    takenOver = false;
                    await Working(() => RunForwardAsync(id, resuming: false, stopping));
                    break;
                case DeploymentState.Running or DeploymentState.Paused when takenOver:
                    takenOver = false;
                    await Working(() => InterruptedAsync(deployment, stopping));
                    break;
                case DeploymentState.Running:
                    await Working(() => RunForwardAsync(id, resuming: true, stopping));
                    break;
                case DeploymentState.Paused:
                    // Interrupted (or paused with no run going): nothing runs until someone resumes or rolls back, and the rollback
                    // triggers are watched meanwhile (the database holds part of the migration).
                    await reporter.WatchWhilePausedAsync(id, targets.ConnectionStringOf(deployment), stopping);
                    try
                    {
                        await Task.Delay(SweepInterval, time, stopping);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    break;
                case DeploymentState.Monitoring:
                    if (takenOver)
                        await SayAsync(deployment, "👀 post-deployment monitoring goes on here (this replica took the deployment over)", stopping);
                    takenOver = false;
                    // Not counted as work: it lasts hours, and a local session ending leaves it to the next start.
                    // With a scheduler its monitoring-ends job ends the period; this owner does only if that has not happened a minute later.
                    await reporter.MonitorAsync(id, targets.ConnectionStringOf(deployment), stopping,
                        endsLate: Reporting is null ? TimeSpan.Zero : MonitoringEndsBackstop);
                    break;
                case DeploymentState.RollingBack:
                    if (takenOver)
                        await SayAsync(deployment, $"⚠️ {id}'s rollback was interrupted and this replica took it over: it runs again from its first step " +
                                                   "(a rollback script is written to be re-run; what it already undid stays undone)", stopping);
                    takenOver = false;
                    await Working(() => RollbackAsync(id, stopping));
                    break;
                case DeploymentState.Aborted when !takenOver && await store.DatabaseStateAsync(id, stopping) is null or "interrupted: see the thread":
                    // Aborted while it waited, paused, after an interruption: no run ends to say what the database holds, so this does.
                    await using (var scope = await store.BeginAsync(stopping))
                    {
                        await store.SetDatabaseStateAsync(scope, id, await JournalAsync(deployment!, stopping), stopping);
                        await cards.EditAsync(scope, deployment!, stopping);
                        await scope.CommitAsync(stopping);
                    }
                    return;
                default:
                    return;   // finished, failed (until someone rolls back), or gone
            }
        }
    }

    /// <summary>The deployment's reporting jobs, when there is a scheduler; a failure is logged (the next change of state tries again).</summary>
    /// <returns>False when scheduling failed (logged).</returns>
    private async Task<bool> ScheduleReportingAsync(DeploymentId id, CancellationToken stopping)
    {
        if (Reporting is null)
            return true;
        try
        {
            await Reporting.EnsureAsync(id, stopping);
            _reportingScheduled[id.Number] = time.GetUtcNow();
            return true;
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            logger.LogError(ex, "{Deployment}: its status and monitoring jobs could not be scheduled", id);
            return false;
        }
    }

    private async Task Working(Func<Task> work)
    {
        Interlocked.Increment(ref _busy);
        try
        {
            await work();
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    /// <summary>A deployment found running with no owner: its process died. What the target's journal shows is said, and it waits, paused.</summary>
    private async Task InterruptedAsync(Deployment found, CancellationToken cancellationToken)
    {
        var what = "its process stopped";
        try
        {
            await using var history = await TargetHistory.OpenAsync(targets.ConnectionStringOf(found), $"{found.Id}-recovery", cancellationToken);
            if (await history.LastAsync(found.Migration.Id, cancellationToken) is { } last)
            {
                var script = SqlScript.Parse(Encoding.UTF8.GetString(found.Migration.Sql.Bytes));
                var next = last.Completed < script.Statements.Count ? script.Statements[last.Completed] : null;
                what = next is null
                    ? $"the journal shows all {script.Statements.Count} statements completed"
                    : $"interrupted at step {last.Completed + 1} of {script.Statements.Count} (#{next.Number} line {next.Line}: {next.Summary(60)}); " +
                      $"the journal shows {last.Completed} completed; {await InFlightAsync(found, script, next, cancellationToken)} — on resume a completed " +
                      "statement is never run again";
            }
            else
                what = "the target has no record of the run: it never touched the database";
        }
        catch (Exception ex) when (ex is NpgsqlException or MigrationHistoryUnavailableException)
        {
            what = $"the target's journal could not be read ({ex.Message})";
        }

        await using var scope = await store.BeginAsync(cancellationToken);
        if (await store.LoadForUpdateAsync(scope, found.Id, cancellationToken) is not { State: DeploymentState.Running or DeploymentState.Paused } deployment)
            return;
        deployment.Interrupted(what, time.GetUtcNow());
        await store.SaveAsync(scope, deployment, cancellationToken);
        await store.SetDatabaseStateAsync(scope, deployment.Id, "interrupted: see the thread", cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        await cards.ThreadAsync(scope, deployment, new ChatMessage($"⚠️ {deployment.Id} was interrupted and this replica took it over", what)
        {
            Footer = $"/migrate resume {deployment.Id} continues after the completed statements · /migrate rollback {deployment.Id} undoes what ran",
        }, cancellationToken);
        await scope.CommitAsync(cancellationToken);
        logger.LogWarning("{Deployment} was interrupted: {What}", deployment.Id, what);
    }

    /// <summary>What the catalog shows of the statement that was in flight when the run stopped: done (skipped on resume) or not (run on resume).</summary>
    private async Task<string> InFlightAsync(Deployment found, SqlScript script, SqlStatement next, CancellationToken cancellationToken)
    {
        await using var connection = await TargetSession.OpenAsync(targets.ConnectionStringOf(found), $"chatops:{found.Id}-recovery:catalog", cancellationToken);
        var analysis = StatementAnalyzer.AnalyzeScript(script, await CatalogFactsReader.ReadAsync(connection, cancellationToken)).Single(a => a.Statement.Number == next.Number);
        return await new TargetCatalog(connection).JudgeAsync(analysis.Postconditions, cancellationToken) switch
        {
            PostconditionVerdict.Done => $"the database shows #{next.Number} took effect ({string.Join("; ", analysis.Postconditions.Select(p => p.Describe()))}): it will be skipped",
            PostconditionVerdict.NotDone => $"the database shows #{next.Number} did not take effect: it runs again on resume",
            _ => $"the catalog cannot tell whether #{next.Number} took effect: it runs again on resume",
        };
    }

    /// <summary>The runbook, its events in the card's thread, its verdict on the card.</summary>
    private async Task RunForwardAsync(DeploymentId id, bool resuming, CancellationToken stopping)
    {
        var control = new ExecutionControl();
        Deployment deployment;
        await using (var scope = await store.BeginAsync(stopping))
        {
            deployment = (await store.LoadForUpdateAsync(scope, id, stopping))!;
            if (Files is not null && await Files.StopIfChangedAsync(scope, deployment, store, cards, time.GetUtcNow(), stopping))
            {
                await scope.CommitAsync(stopping);
                return;   // a file changed since approval: sign-offs void, awaiting approval again, nothing ran
            }
            if (deployment.State == DeploymentState.Approved)
                deployment.Begin(time.GetUtcNow());
            else if (deployment.State != DeploymentState.Running)
                return;
            await store.SaveAsync(scope, deployment, stopping);
            await store.SetDatabaseStateAsync(scope, id, null, stopping);
            await cards.EditAsync(scope, deployment, stopping);
            if (resuming)
                await cards.ThreadAsync(scope, deployment, new ChatMessage($"▶️ {id} resumes: completed statements are not run again"), stopping);
            await scope.CommitAsync(stopping);
        }
        await ScheduleReportingAsync(id, stopping);   // running now: its status posts start
        _controls[id.Number] = control;
        try
        {
            var target = targets.ConnectionStringOf(deployment);
            // The runner calls back on its own threads: events queue here and are written in order by one reader.
            var thread = System.Threading.Channels.Channel.CreateUnbounded<RunbookEvent>(new() { SingleReader = true });
            var running = deployment;
            var pausedForWindow = false;
            var writer = Task.Run(async () =>
            {
                await foreach (var e in thread.Reader.ReadAllAsync(CancellationToken.None))
                {
                    try
                    {
                        await EventAsync(running, e, CancellationToken.None);
                    }
                    catch (Exception ex)
                    {
                        logger.LogError(ex, "{Deployment}: an event could not be written to the thread", id);
                    }
                }
            }, CancellationToken.None);

            var pinned = deployment.Migration;
            var saved = resuming ? await store.CheckpointAsync(id, stopping) : null;
            RunbookResult result;
            try
            {
                result = await new RunbookRunner(execution, monitoring, time).RunAsync(new RunbookRequest(target, pinned.Id, pinned.Sql.Sha256,
                    SqlScript.Parse(Encoding.UTF8.GetString(pinned.Sql.Bytes)), Runbook(pinned), $"{id}-{time.GetUtcNow():HHmmss}", e =>
                    {
                        Metrics?.Record(e);
                        // A phase does not start after the maintenance window's end: held here, on the runner's thread, before the next
                        // phase — any of 1 to 4; the verdict is no phase — can start; the event writer stores the pause after the last
                        // phase's lines (the sweep leaves the hold alone meanwhile). Already paused by a person, the hold only moves to
                        // before the phase. Once: a person who resumes after it goes on outside the window. Not a run told to stop or
                        // cancel (abort, rollback): it ends at this boundary, and a hold would wait for a resume nobody sends.
                        if (e is PhaseDue && !pausedForWindow && running.Window is not null && !running.MayStartPhase(time.GetUtcNow())
                            && !control.IsStopRequested && !control.IsCancelRequested)
                        {
                            pausedForWindow = true;
                            if (!control.IsPaused)
                                _heldForWindow[id.Number] = true;
                            control.PauseBeforeNextPhase();
                        }
                        thread.Writer.TryWrite(e);
                    },
                    control, AppliedBy: $"{deployment.Requester} ({id}, signed by {string.Join(", ", deployment.SignOffs.Signers.Keys)})",
                    ResumeFrom: saved is null ? null : RunbookCheckpoint.FromJson(saved)), stopping);
            }
            catch (Exception ex) when (ex is TargetBusyException or NpgsqlException && !stopping.IsCancellationRequested)
            {
                var why = ex is NpgsqlException npgsql ? TargetFailure.Classify(npgsql)?.Message ?? npgsql.Message : ex.Message;
                result = new RunbookResult(RunbookOutcome.TargetUnavailable, [$"the run could not start: {why}"], null);
            }
            thread.Writer.Complete();
            await writer;

            await using var scope = await store.BeginAsync(CancellationToken.None);
            deployment = (await store.LoadForUpdateAsync(scope, id, CancellationToken.None))!;
            var wasAborted = deployment.State == DeploymentState.Aborted;
            var now = time.GetUtcNow();
            var monitorUntil = reporter.Policy.MonitorsAfterDeployment ? now + reporter.Policy.Cadence.Extended : (DateTimeOffset?)null;
            deployment.Finished(result.Succeeded, result.Reasons, now, monitorUntil);
            await store.SaveAsync(scope, deployment, CancellationToken.None);
            if (deployment.State == DeploymentState.Monitoring)
                await store.SetMonitoringUntilAsync(scope, id, monitorUntil, CancellationToken.None);
            if (wasAborted)
                await store.SetDatabaseStateAsync(scope, id, await JournalAsync(deployment, CancellationToken.None), CancellationToken.None);
            await cards.EditAsync(scope, deployment, CancellationToken.None);
            if (deployment.State is DeploymentState.Completed or DeploymentState.Monitoring or DeploymentState.Failed)
                await cards.ThreadAsync(scope, deployment, new ChatMessage(result.Succeeded ? "🟢 VERDICT: SUCCESS" : "🔴 VERDICT: FAILED")
                {
                    Fields = result.Reasons.Select(r => new MessageField("reason", r)).ToList(),
                    Footer = result.Succeeded
                        ? deployment.State == DeploymentState.Monitoring ? $"Post-deployment monitoring until {monitorUntil:yyyy-MM-dd HH:mm}Z: " +
                            $"{reporter.Policy.Cadence.PostDeploymentInWords()}, the rollback triggers watched, then the performance report" : null
                        : pinned.Rollback is null ? null : $"To roll back: /migrate rollback {id} --confirm",
                }, CancellationToken.None);
            // A rollback trigger's prompt may be pending already (it answers itself when it lapses): no second prompt.
            if (deployment.State == DeploymentState.Failed && pinned.Rollback is not null
                && !await store.RollbackPromptRollsBackAsync(id, CancellationToken.None, scope))
                await cards.PromptRollbackAsync(scope, deployment, "the verdict failed", CancellationToken.None);
            else if (wasAborted)
                await cards.ThreadAsync(scope, deployment, new ChatMessage($"⏹️ {id} stopped: {await store.DatabaseStateAsync(id, CancellationToken.None) ?? "aborted"}"), CancellationToken.None);
            await scope.CommitAsync(CancellationToken.None);
        }
        finally
        {
            _controls.TryRemove(id.Number, out _);
            _heldForWindow.TryRemove(id.Number, out _);
        }
    }

    /// <summary>One runbook event: the card follows the phases, the thread gets a line.</summary>
    /// <param name="running">The deployment as its run began: who it is and where its thread is (a plain line needs nothing more).</param>
    private async Task EventAsync(Deployment running, RunbookEvent e, CancellationToken cancellationToken)
    {
        var id = running.Id;
        await reporter.ObserveAsync(running, e, cancellationToken);
        if (e is CheckpointReached checkpoint)
        {
            // The latest one is what a replica taking over resumes from: never a baseline measured after the migration started.
            await store.SetCheckpointAsync(id, checkpoint.Checkpoint.ToJson(), cancellationToken);
            return;
        }
        if (e is PhaseDue due)
        {
            if (_heldForWindow.ContainsKey(id.Number))
            {
                try
                {
                    await PauseAtWindowEndAsync(id, due.Phase, cancellationToken);
                }
                finally
                {
                    _heldForWindow.TryRemove(id.Number, out _);   // stored (or the deployment moved on): the sweep follows the state database again
                }
            }
            return;
        }
        var line = ThreadLine(e);
        if (line is null)
            return;
        await using var scope = await store.BeginAsync(cancellationToken);
        // Only a new phase changes the deployment (and its card); the other lines only go to the thread.
        if (e is PhaseStarted started && await store.LoadForUpdateAsync(scope, id, cancellationToken) is { State: DeploymentState.Running or DeploymentState.Paused } deployment)
        {
            deployment.EnterPhase(started.Phase, time.GetUtcNow());
            await store.SaveAsync(scope, deployment, cancellationToken);
            await cards.EditAsync(scope, deployment, cancellationToken);
        }
        await cards.ThreadAsync(scope, running, new ChatMessage(line), cancellationToken);
        await scope.CommitAsync(cancellationToken);
    }

    /// <param name="next">The phase that does not start.</param>
    private async Task<bool> PauseAtWindowEndAsync(DeploymentId id, RunbookPhase next, CancellationToken cancellationToken)
    {
        await using var scope = await store.BeginAsync(cancellationToken);
        if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { } deployment || !deployment.PauseAtWindowEnd(time.GetUtcNow()))
            return false;
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        await cards.ThreadAsync(scope, deployment, new ChatMessage($"⏸️ {id} paused: the maintenance window ended at {deployment.WindowEnd:HH:mm}Z",
            $"the phase that was running finished; {next.Title()} does not start")
        {
            Footer = $"/migrate resume {id} continues outside the window · /migrate rollback {id} --confirm undoes what ran",
        }, cancellationToken);
        await scope.CommitAsync(cancellationToken);
        logger.LogWarning("{Deployment}: the maintenance window ended: paused between phases", id);
        return true;
    }

    private async Task SayAsync(Deployment deployment, string line, CancellationToken cancellationToken)
    {
        await using var scope = await store.BeginAsync(cancellationToken);
        await cards.ThreadAsync(scope, deployment, new ChatMessage(line), cancellationToken);
        await scope.CommitAsync(cancellationToken);
    }

    /// <summary>What the target's journal says the database holds of the migration (the card shows it after an abort).</summary>
    private async Task<string> JournalAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var total = SqlScript.Parse(Encoding.UTF8.GetString(deployment.Migration.Sql.Bytes)).Statements.Count;
        try
        {
            await using var history = await TargetHistory.OpenAsync(targets.ConnectionStringOf(deployment), $"{deployment.Id}-journal", cancellationToken);
            var completed = (await history.LastAsync(deployment.Migration.Id, cancellationToken))?.Completed ?? 0;
            return completed == 0 ? "database: no statement of the migration ran"
                : $"database: {completed} of {total} statements applied, the rest not run";
        }
        catch (Exception ex) when (ex is NpgsqlException or MigrationHistoryUnavailableException)
        {
            return $"database: unknown (the target's journal could not be read: {ex.Message})";
        }
    }

    private async Task RollbackAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        var deployment = (await store.LoadAsync(id, cancellationToken))!;
        var user = deployment.Audit.LastOrDefault(a => a.What.StartsWith("rolling back", StringComparison.Ordinal))?.Who ?? "bot";
        var rollback = deployment.Migration.Rollback!;
        bool verified;
        string detail, said;
        StatementFailed? failedStep = null;
        var steps = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var began = time.GetTimestamp();
        try
        {
            var result = await new RollbackRunner(execution, time).RunAsync(new RollbackRequest(targets.ConnectionStringOf(deployment), deployment.Migration.Id, rollback.Sha256,
                SqlScript.Parse(Encoding.UTF8.GetString(rollback.Bytes)), $"{id}-rollback", e =>
                {
                    Metrics?.Record(e);
                    if (ThreadLine(new ExecutionReported(e.At, e)) is { } line)
                        steps.Enqueue(line);
                }, AppliedBy: $"{user} ({id})", Force: true), cancellationToken);
            verified = result.Succeeded;
            foreach (var check in result.Checks)
                steps.Enqueue($"{(check.Holds ? "✅" : "❌")} {check.What}");
            failedStep = result.Execution?.Failure;
            // The failing step is named beside PostgreSQL's error (the alert, the audit): which statement a person must look at.
            detail = result.Succeeded ? $"{result.Checks.Count} effect(s) verified"
                : failedStep is { } f ? $"step {Step(f.Statement)} failed: {f.Message}"
                : string.Join("; ", result.Checks.Where(c => !c.Holds).Select(c => c.What));
            said = result.Succeeded ? $"rolled back and verified in {Durations.Short(time.GetElapsedTime(began))}" : $"the rollback failed: {detail}";
        }
        catch (Exception ex) when (ex is TargetBusyException or NpgsqlException && !cancellationToken.IsCancellationRequested)
        {
            // It never started (another run holds the target, or the target is gone): said, and a rollback can be asked again.
            var why = ex is NpgsqlException npgsql ? TargetFailure.Classify(npgsql)?.Message ?? npgsql.Message : ex.Message;
            (verified, detail) = (false, $"the rollback could not run: {why}");
            said = $"{detail}. Ask again with /migrate rollback {id} --confirm";
        }
        await using var scope = await store.BeginAsync(CancellationToken.None);
        deployment = (await store.LoadForUpdateAsync(scope, id, CancellationToken.None))!;
        deployment.RollbackFinished(verified, detail, time.GetUtcNow());
        await store.SaveAsync(scope, deployment, CancellationToken.None);
        await store.SetDatabaseStateAsync(scope, id, null, CancellationToken.None);
        await store.SetRollbackPromptAsync(scope, id, null, null, CancellationToken.None);
        await cards.EditAsync(scope, deployment, CancellationToken.None);
        if (!steps.IsEmpty)
            await cards.ThreadAsync(scope, deployment, new ChatMessage($"⏪ {id} rollback, step by step", string.Join("\n", steps)), CancellationToken.None);
        await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, verified
            ? new ChatMessage($"⏪ {id}: {said}")
            : new ChatMessage($"🚨 {id}: ROLLBACK FAILED", said)
            {
                // A person must act: the database holds part of the migration and part of its rollback (or all of the migration, when the
                // rollback never started).
                Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
                Fields =
                [
                    .. failedStep is { } step ? [new MessageField("failing step", $"{Step(step.Statement)} of {rollback.Name}")] : Array.Empty<MessageField>(),
                    new MessageField("what holds now", steps.IsEmpty
                        ? "the rollback did not start: the database is as the migration left it"
                        : "the database has the migration partly undone: the steps in the thread show what ran"),
                ],
                Footer = steps.IsEmpty
                    ? $"What to do: make the target available (see why above), then /migrate rollback {id} --confirm again"
                    : $"What to do: read the failing step and fix its cause on the target (a dependent object, a lock, a permission), then " +
                      $"/migrate rollback {id} --confirm again — the rollback script is written to be re-run; its completed steps are harmless",
            }, CancellationToken.None, id.Number);
        await scope.CommitAsync(CancellationToken.None);
        await reporter.RolledBackAsync(deployment, CancellationToken.None);
    }

    /// <summary>A statement as people find it in its file: <c>#2 line 14 (ALTER TABLE public.contacts DROP COLUMN note)</c>.</summary>
    private static string Step(SqlStatement statement) => $"#{statement.Number} line {statement.Line} ({statement.Summary(60)})";

    /// <summary>The deployment's pinned runbook file, or the seed's defaults.</summary>
    public static MigrationRunbook Runbook(PinnedMigration pinned) => pinned.Runbook is { } runbook
        ? MigrationRunbook.Parse(Encoding.UTF8.GetString(runbook.Bytes), runbook.Name)
        : MigrationRunbook.Empty;

    /// <summary>What the thread shows of a runbook event (samples and threshold noise stay out; the card shows the state).</summary>
    private static string? ThreadLine(RunbookEvent e) => e switch
    {
        PhaseStarted p => $"── {p.Phase.Title()} ──",
        PhaseFinished p => $"{(p.Ok ? "✓" : "✗")} {p.Phase.Title()} in {Durations.Short(p.Duration)}: {p.Summary}",
        CheckCompleted { Check.Status: CheckStatus.Manual } => null,   // the card shows the manual items and who confirmed them
        CheckCompleted c => $"{c.Check.Status switch { CheckStatus.Fail => "❌", CheckStatus.Warn => "⚠️", _ => "✅" }} {c.Check.Name}: {c.Check.Detail}",
        Measured m => $"📏 {m.Name}: {(double.IsNaN(m.Value) ? "n/a" : $"{m.Value:0.###} {m.Unit}")}{(m.Detail.Length > 0 ? $" ({m.Detail})" : "")}",
        ExecutionReported { Execution: StatementFinished f } => $"✓ #{f.Statement.Number} line {f.Statement.Line} in {Durations.Short(f.Duration)}" +
            (f.LockWait > TimeSpan.Zero ? $" (waited {Durations.Short(f.LockWait)} for locks)" : "") + $": {f.Statement.Summary(60)}",
        ExecutionReported { Execution: RunPaused p } => $"⏸️ paused before #{p.Next.Number} line {p.Next.Line}: nothing more runs until /migrate resume",
        ExecutionReported { Execution: RunResumed } => "▶️ resumed",
        ExecutionReported { Execution: StatementSkipped k } => $"↷ #{k.Statement.Number} line {k.Statement.Line} not run again: {k.Reason}",
        ExecutionReported { Execution: WaitingForBlockers w } => $"⏳ #{w.Statement.Number} waits for {string.Join("; ", w.Blockers.Select(b => b.Describe()))}",
        ExecutionReported { Execution: NoticeReceived n } => $"  {n.Severity}: {n.Message}",
        ExecutionReported { Execution: StatementFailed f } => $"✗ #{f.Statement.Number} line {f.Statement.Line} failed: {f.Message}",
        ThresholdReported { Threshold: ThresholdBreached b } => $"🚨 {b.Rule.Describe()}",
        HistoryConsulted h => $"📜 {h.Decision.Describe()}",
        RunbookResumed r => $"▶️ resumed at {r.Phase.Title()} with the baseline measured {r.BaselineAt:HH:mm:ss}Z (run {r.BaselineRunId}): {r.Detail}",
        _ => null,
    };
}
