using ChatOps.Core.Execution;

namespace ChatOps.Bot.Cli;

/// <summary>Renders execution events as a readable timeline: one line per statement, its notices and waits under it.</summary>
public sealed class Timeline(TextWriter output, TimeProvider timeProvider)
{
    private readonly DateTimeOffset _origin = timeProvider.GetUtcNow();
    // A statement's notices arrive before it finishes; they are shown under its line.
    private readonly List<NoticeReceived> _notices = [];

    private string Clock(DateTimeOffset at) => $"+{(at - _origin).TotalSeconds,7:0.000}s";

    public void Render(ExecutionEvent e)
    {
        switch (e)
        {
            case RunStarted r:
                output.WriteLine($"{Clock(r.At)}  run {r.RunId}: {r.Statements} statements{(r.AlreadyDone > 0 ? $", {r.AlreadyDone} already done" : "")}");
                break;
            case StatementFinished f:
                var waits = f.LockWait > TimeSpan.Zero ? $" · waited {Durations.Short(f.LockWait)}" : "";
                var retries = f.Attempts > 1 ? $" · {f.Attempts} attempts" : "";
                var held = f.LockHeld > TimeSpan.Zero ? $" · locks held {f.LockHeld.TotalMilliseconds:0.0} ms" : "";
                output.WriteLine($"{Clock(f.At)}  ✓ #{f.Statement.Number,-2} line {f.Statement.Line,-4} {f.Duration.TotalMilliseconds,9:0.0} ms  {f.Statement.Summary(80)}{waits}{retries}{held}");
                FlushNotices();
                break;
            case NoticeReceived n:
                _notices.Add(n);
                break;
            case StatementSkipped s:
                output.WriteLine($"{Clock(s.At)}  ↷ #{s.Statement.Number,-2} line {s.Statement.Line,-4} skipped: {s.Reason}");
                break;
            case WaitingForBlockers w:
                output.WriteLine($"{Clock(w.At)}  ⏳ #{w.Statement.Number} waits (not knocking) for {w.Blockers.Count} session(s) holding conflicting locks:");
                foreach (var b in w.Blockers)
                    output.WriteLine($"             {b.Describe()}");
                break;
            case StatementRetried r:
                var who = r.Blockers.Count == 0 ? "" : $" — held by {string.Join(", ", r.Blockers.Select(b => $"pid {b.Pid}"))}";
                output.WriteLine($"{Clock(r.At)}  ↻ #{r.Statement.Number} lock timeout on attempt {r.Attempt}; retrying in {Durations.Short(r.Sleep)}{who}");
                break;
            case AutovacuumInTheWay { Wraparound: true } a:
                output.WriteLine($"{Clock(a.At)}  ⏳ #{a.Statement.Number} waits for autovacuum to prevent wraparound (pid {a.Worker.Pid}, {a.Worker.Query}): PostgreSQL does not cancel it, and neither do we");
                break;
            case AutovacuumInTheWay a:
                output.WriteLine($"{Clock(a.At)}  🧹 #{a.Statement.Number}: autovacuum (pid {a.Worker.Pid}, {a.Worker.Query}) holds a conflicting lock — " +
                                 (a.Cancelled ? "cancelled it, as PostgreSQL does for a lock request; it runs again later"
                                              : "attempting past deadlock_timeout so that PostgreSQL cancels it (signalling it needs a superuser)"));
                break;
            case InvalidIndexDropped d:
                output.WriteLine($"{Clock(d.At)}  🧹 dropped INVALID index {d.Index} left by an earlier build");
                break;
            case RunPaused p:
                output.WriteLine($"{Clock(p.At)}  ⏸ paused before #{p.Next.Number}");
                break;
            case RunResumed r:
                output.WriteLine($"{Clock(r.At)}  ▶ resumed");
                break;
            case RunCancelled c:
                FlushNotices();
                output.WriteLine($"{Clock(c.At)}  ■ cancelled{(c.During is { } during ? $" during #{during.Number}" : "")}");
                break;
            case StatementFailed f:
                FlushNotices();
                output.WriteLine($"{Clock(f.At)}  ✗ #{f.Statement.Number} line {f.Statement.Line} failed{(f.SqlState is null ? "" : $" [{f.SqlState}]")}: {f.Message}");
                break;
            case RunFinished r:
                output.WriteLine($"{Clock(r.At)}  {r.Outcome.ToString().ToLowerInvariant()}: {r.StatementsRun} statement(s) in {Durations.Short(r.Duration)}");
                break;
        }
    }

    private void FlushNotices()
    {
        foreach (var n in _notices)
            output.WriteLine($"             {n.Severity}: {n.Message}");
        _notices.Clear();
    }
}
