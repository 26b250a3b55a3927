using System.Text.Json;
using ChatOps.Core.Execution;
using ChatOps.Core.Migrations;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A runbook run stopped during phase 2 and continued by another run from its checkpoint: no baseline measured again,
/// no journalled statement run again, the verdict against the saved baseline and the rows kept at baseline.
/// </summary>
public class ResumeTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static MigrationRunbook Runbook => VerdictRunbooks.BenchmarksOnly with { Table = "public.contacts", RowsAtBaseline = "SELECT id FROM public.contacts" };

    /// <summary>A migration that deletes no contacts: a log table filled one statement at a time, and a column added.</summary>
    private static string Script(string log) => $"""
        CREATE TABLE public.{log} (n int);
        INSERT INTO public.{log} VALUES (1);
        INSERT INTO public.{log} VALUES (2);
        ALTER TABLE public.contacts ADD COLUMN IF NOT EXISTS {log}_note text;
        INSERT INTO public.{log} VALUES (3);
        """;

    /// <summary>Runs the migration, pauses it after its second statement and cancels it there; returns the last checkpoint it emitted.</summary>
    private async Task<(RunbookResult Result, IReadOnlyList<RunbookEvent> Events, RunbookCheckpoint Checkpoint)> StopAfterTwoAsync(string migration, string log)
    {
        var control = new ExecutionControl();
        var finished = 0;
        var paused = new TaskCompletionSource();
        RunbookCheckpoint? last = null;
        var running = Runbooks.RunAsync(db.ConnectionString, Script(log), Runbook, control, e =>
        {
            switch (e)
            {
                case CheckpointReached c:
                    last = c.Checkpoint;
                    break;
                // A pause takes effect at the next statement boundary: exactly two statements complete.
                case ExecutionReported { Execution: StatementFinished } when ++finished == 2:
                    control.Pause();
                    break;
                case ExecutionReported { Execution: RunPaused }:
                    paused.TrySetResult();
                    break;
            }
        }, migration: migration);
        await paused.Task.WaitAsync(TimeSpan.FromMinutes(2));
        control.Cancel();
        var (result, events) = await running;
        Assert.Equal(RunbookOutcome.Cancelled, result.Outcome);
        Assert.NotNull(last);
        // What the bot stores and reads back: the resumed run gets the checkpoint through JSON.
        return (result, events, RunbookCheckpoint.FromJson(last.ToJson()));
    }

    private static IEnumerable<ExecutionEvent> Execution(IEnumerable<RunbookEvent> events) => events.OfType<ExecutionReported>().Select(e => e.Execution);

    [Fact]
    public async Task A_run_stopped_in_phase_2_resumes_from_its_checkpoint_without_measuring_again_or_running_a_statement_twice()
    {
        const string migration = "rs1_resume";
        var (_, stoppedEvents, checkpoint) = await StopAfterTwoAsync(migration, "rs1_log");
        Assert.Equal(RunbookPhase.Migration, checkpoint.Phase);
        Assert.Equal(2, checkpoint.Parameters.Count);
        Assert.Equal(TestPostgres.TemplateContacts, checkpoint.RowsAtBaseline!.Count);
        Assert.Contains(stoppedEvents, e => e is PhaseFinished { Phase: RunbookPhase.Baseline, Ok: true });
        Assert.Equal(checkpoint.HistoryId, await db.ScalarAsync<long>("SELECT max(id) FROM chatops.migration_history WHERE migration = $1", migration));
        // The stopped run keeps its rows at baseline for the run that resumes it.
        Assert.True(await db.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", checkpoint.RowsAtBaseline.Table));

        // Between the two processes the application deletes two contacts that existed at baseline.
        await db.ExecuteAsync("DELETE FROM public.contacts WHERE id IN (SELECT id FROM public.contacts ORDER BY id LIMIT 2)");

        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, Script("rs1_log"), Runbook, migration: migration, resumeFrom: checkpoint);

        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        Assert.IsType<RunDecision.Resume>(Assert.Single(events.OfType<HistoryConsulted>()).Decision);
        var resumed = Assert.Single(events.OfType<RunbookResumed>());
        Assert.Equal(RunbookPhase.Migration, resumed.Phase);
        Assert.Equal(checkpoint.BaselineAt, resumed.BaselineAt);
        Assert.Contains("intact", resumed.Detail);
        // Nothing of the pre-deployment checks or of phase 1 again: no baseline measurement.
        Assert.Equal([RunbookPhase.Migration, RunbookPhase.IndexBuilds, RunbookPhase.Validation, RunbookPhase.Verdict],
            events.OfType<PhaseStarted>().Select(p => p.Phase));
        Assert.DoesNotContain(events.OfType<Measured>(), m => m.Phase == RunbookPhase.Baseline || m.Name.StartsWith("baseline", StringComparison.Ordinal)
                                                             || m.Name == "rows at baseline");
        // The journalled statements are skipped, never started.
        Assert.Equal([1, 2], Execution(events).OfType<StatementSkipped>().Select(s => s.Statement.Number));
        Assert.Equal([3, 4, 5], Execution(events).OfType<StatementStarted>().Select(s => s.Statement.Number).Distinct());
        Assert.Equal("1,2,3", await db.ScalarAsync<string>("SELECT string_agg(n::text, ',' ORDER BY n) FROM public.rs1_log"));

        // The verdict compares with the saved baseline …
        var round = Assert.Single(events.OfType<Measured>(), m => m.Name == "benchmark round 1");
        Assert.Contains($"{checkpoint.Baseline.Queries.Sum(q => q.MedianMs):0.000} ms at baseline", round.Detail);
        // … and with the rows kept at baseline by the first run: the application's deletes show (a new baseline would not see them).
        var integrity = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "no data loss").Check;
        Assert.Equal(CheckStatus.Pass, integrity.Status);
        Assert.Contains($"{TestPostgres.TemplateContacts - 2:N0} of the {TestPostgres.TemplateContacts:N0} rows that existed at baseline remain", integrity.Detail);
        Assert.Contains("2 deleted by the application, 0 lost", integrity.Detail);
        Assert.True(Assert.Single(events.OfType<VerdictReached>()).Succeeded);

        // The target's truth: the first run cancelled, the second applied it; statements 1–2 ran in the first run, 3–5 in the second.
        Assert.Equal("cancelled|succeeded", await db.ScalarAsync<string>(
            "SELECT string_agg(outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = $1", migration));
        Assert.Equal("1 first|2 first|3 second|4 second|5 second", await db.ScalarAsync<string>(
            "SELECT string_agg(statement || CASE WHEN run_id = $2 THEN ' first' ELSE ' second' END, '|' ORDER BY statement) " +
            "FROM chatops.statement_journal WHERE migration = $1 AND completed_at IS NOT NULL", migration, checkpoint.RunId));
        // The resumed run's checkpoints name its own history entry (a second interruption resumes from it), and the verdict dropped the kept rows.
        var latest = events.OfType<CheckpointReached>().Last().Checkpoint;
        Assert.Equal(RunbookPhase.Validation, latest.Phase);
        Assert.Equal(await db.ScalarAsync<long>("SELECT max(id) FROM chatops.migration_history WHERE migration = $1", migration), latest.HistoryId);
        Assert.Equal(checkpoint.BaselineAt, latest.BaselineAt);
        Assert.False(await db.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", checkpoint.RowsAtBaseline.Table));
    }

    [Fact]
    public async Task Kept_rows_changed_between_stop_and_resume_fail_the_resumed_runs_data_loss_check()
    {
        const string migration = "rs2_tamper";
        var (_, _, checkpoint) = await StopAfterTwoAsync(migration, "rs2_log");
        var table = checkpoint.RowsAtBaseline!.Table;
        await db.ExecuteAsync($"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} LIMIT 3)");

        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, Script("rs2_log"), Runbook, migration: migration, resumeFrom: checkpoint);

        Assert.Equal(RunbookOutcome.Failed, result.Outcome);
        Assert.Contains("changed since", Assert.Single(events.OfType<RunbookResumed>()).Detail);
        var integrity = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "no data loss").Check;
        Assert.Equal(CheckStatus.Fail, integrity.Status);
        Assert.Contains($"{checkpoint.RowsAtBaseline.Count - 3:N0} rows, {checkpoint.RowsAtBaseline.Count:N0} then", integrity.Detail);
        Assert.Contains(result.Reasons, r => r.Contains("rows kept at baseline cannot be trusted", StringComparison.Ordinal));
        // The migration itself finished (applied, verdict failed), and the kept rows are gone with the verdict.
        Assert.Equal("1,2,3", await db.ScalarAsync<string>("SELECT string_agg(n::text, ',' ORDER BY n) FROM public.rs2_log"));
        Assert.False(await db.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", table));
    }

    [Fact]
    public async Task A_checkpoint_of_another_history_entry_or_migration_is_refused_before_anything_runs()
    {
        const string migration = "rs3_refuse";
        var (_, _, checkpoint) = await StopAfterTwoAsync(migration, "rs3_log");

        foreach (var (wrong, why) in new[]
                 {
                     (checkpoint with { HistoryId = checkpoint.HistoryId + 1000 }, "latest entry on the target is"),
                     (checkpoint with { Migration = "rs3_other" }, "not rs3_refuse"),
                 })
        {
            var (refused, events) = await Runbooks.RunAsync(db.ConnectionString, Script("rs3_log"), Runbook, migration: migration, resumeFrom: wrong);
            Assert.Equal(RunbookOutcome.Refused, refused.Outcome);
            Assert.Contains(why, Assert.Single(refused.Reasons));
            Assert.StartsWith("cannot resume from the checkpoint", refused.Reasons[0]);
            Assert.DoesNotContain(events, e => e is PhaseStarted { Phase: not RunbookPhase.Verdict } or ExecutionReported or RunbookResumed);
        }
        // Nothing touched: no new history entry, statements 1–2 (the table and its first row) still the only ones, the kept rows
        // still there for the right checkpoint.
        Assert.Equal(checkpoint.HistoryId, await db.ScalarAsync<long>("SELECT max(id) FROM chatops.migration_history WHERE migration = $1", migration));
        Assert.Equal("1", await db.ScalarAsync<string>("SELECT string_agg(n::text, ',' ORDER BY n) FROM public.rs3_log"));
        Assert.True(await db.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", checkpoint.RowsAtBaseline!.Table));

        var (resumed, _) = await Runbooks.RunAsync(db.ConnectionString, Script("rs3_log"), Runbook, migration: migration, resumeFrom: checkpoint);
        Assert.True(resumed.Succeeded, string.Join("\n", resumed.Reasons));
    }

    private sealed class ProcessDied : Exception;

    [Fact]
    public async Task A_run_that_died_in_validation_resumes_there_with_phase_2s_measurements_and_runs_no_statement()
    {
        const string migration = "rs4_validation";
        // The process dies as phase 3 ends: its sessions close, its history entry stays "running", its kept rows stay.
        RunbookCheckpoint? atValidation = null;
        await Assert.ThrowsAsync<ProcessDied>(() => Runbooks.RunAsync(db.ConnectionString, Script("rs4_log"), Runbook, onEvent: e =>
        {
            if (e is CheckpointReached { Checkpoint.Phase: RunbookPhase.Validation } c)
            {
                atValidation = c.Checkpoint;
                throw new ProcessDied();
            }
        }, migration: migration));
        var checkpoint = RunbookCheckpoint.FromJson(atValidation!.ToJson());
        Assert.Contains(checkpoint.Criteria, c => c.Name == "peak blocked application sessions");
        Assert.Contains(4, checkpoint.Watch.ExclusiveHolds.Keys);   // ALTER TABLE … ADD COLUMN

        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, Script("rs4_log"), Runbook, migration: migration, resumeFrom: checkpoint);

        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        Assert.Equal(RunbookPhase.Validation, Assert.Single(events.OfType<RunbookResumed>()).Phase);
        Assert.Equal([RunbookPhase.Validation, RunbookPhase.Verdict], events.OfType<PhaseStarted>().Select(p => p.Phase));
        Assert.DoesNotContain(events, e => e is ExecutionReported);
        var criteria = Assert.Single(events.OfType<VerdictReached>()).Criteria;
        Assert.Contains(criteria, c => c.Criterion.Name == "peak blocked application sessions" && c.Measured is not null);
        Assert.Contains(criteria, c => c.Criterion.Name == "longest ACCESS EXCLUSIVE hold" && c.Detail == "statement #4");
        Assert.Equal(CheckStatus.Pass, Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "no data loss").Check.Status);
        Assert.Equal("interrupted|succeeded", await db.ScalarAsync<string>(
            "SELECT string_agg(outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = $1", migration));
        Assert.Equal("1,2,3", await db.ScalarAsync<string>("SELECT string_agg(n::text, ',' ORDER BY n) FROM public.rs4_log"));
        Assert.False(await db.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", checkpoint.RowsAtBaseline!.Table));
    }

    [Fact]
    public void A_checkpoint_round_trips_through_json_with_every_field()
    {
        var query = new QueryMeasurement("point read", [0.25, 0.5, 0.125], 4, "Index Scan[contacts/contacts_pkey]()", ["Index Scan using contacts_pkey on contacts"]);
        var control = new QueryMeasurement("control", [1.5, 1.25], 0, "Aggregate(Function Scan[/]())", []);
        var checkpoint = new RunbookCheckpoint(RunbookCheckpoint.CurrentFormat, "m1", new string('a', 64), "rb-1", 42, RunbookPhase.IndexBuilds,
            new DateTimeOffset(2025, 8, 3, 2, 0, 0, TimeSpan.Zero), "rb-0", 1.25, new TransactionCounts(100, 3, 0, null), 12, 30, 2,
            [16384u, 16390u], new BenchmarkRound([query], control), new RlsOverhead(query, query, control, 0.0625),
            [new RunbookParameter("uuid", "9b2e0c5e-0000-4000-8000-000000000001"), new RunbookParameter("bigint", "7"), new RunbookParameter("text", null)],
            new KeptRows("chatops.rows_at_baseline_42", 50_000, "-123456789012345678901"),
            new MigrationWatch(2, 1, 17, new Dictionary<int, TimeSpan> { [1] = TimeSpan.FromMilliseconds(12.5), [4] = TimeSpan.FromSeconds(1) }),
            [new MeasuredCriterion("peak blocked application sessions", 2, "over 17 samples"), new MeasuredCriterion("index usage", null, "not measured")],
            ["index public.x is missing or INVALID after the migration"]);

        var json = checkpoint.ToJson();
        Assert.Contains("\"Phase\":\"IndexBuilds\"", json);
        Assert.Equal(json, RunbookCheckpoint.FromJson(json).ToJson());
        // A caller's own serializer (default options) round-trips it too.
        Assert.Equal(json, JsonSerializer.Deserialize<RunbookCheckpoint>(JsonSerializer.Serialize(checkpoint))!.ToJson());
        var back = RunbookCheckpoint.FromJson(json);
        Assert.Equal(checkpoint.CountsAtMigration, back.CountsAtMigration);
        Assert.Equal(checkpoint.RowsAtBaseline, back.RowsAtBaseline);
        Assert.Equal(TimeSpan.FromMilliseconds(12.5), back.Watch.ExclusiveHolds[1]);
        Assert.Equal(0.25, back.Baseline.Queries[0].MedianMs);
        Assert.Null(back.Parameters[2].Text);
        Assert.Throws<JsonException>(() => RunbookCheckpoint.FromJson("null"));
    }
}
