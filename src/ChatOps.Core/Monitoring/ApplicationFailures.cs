namespace ChatOps.Core.Monitoring;

/// <summary>The target database's transaction counters (<c>pg_stat_database</c>) at one moment, or their difference over a window.</summary>
/// <param name="Rollbacks">Every error aborts its transaction, so failed application statements are counted here.</param>
/// <param name="SessionsLost">Sessions ended by a fatal error, terminated, or abandoned (PostgreSQL 14+; null before).</param>
public sealed record TransactionCounts(long Commits, long Rollbacks, long Deadlocks, long? SessionsLost)
{
    /// <summary>Rollbacks as a percentage of all transactions counted; null when there were none.</summary>
    public double? RollbackRatioPercent => Commits + Rollbacks == 0 ? null : 100.0 * Rollbacks / (Commits + Rollbacks);

    public static TransactionCounts operator -(TransactionCounts end, TransactionCounts start) =>
        new(end.Commits - start.Commits, end.Rollbacks - start.Rollbacks, end.Deadlocks - start.Deadlocks, end.SessionsLost - start.SessionsLost);
}

/// <summary>Whether the application's failure rate rose during the migration, with the figures that say so.</summary>
public sealed record FailureRateReading(bool Rose, long Failures, long Transactions, double Percent, double? BaselinePercent, string Detail);

/// <summary>
/// Judges the application's transactions over the migration's window against its normal rollback ratio. The
/// bot's own aborted attempts (a statement retried after a lock timeout, a failed probe) are taken out first:
/// they are not the application's. A rise needs both more than the allowed percentage points (the error-rate rule's value)
/// over the baseline and at least <see cref="MinimumFailures"/> failed transactions, so one stray error on a quiet
/// target does not fail a deployment.
/// </summary>
public static class FailureRateJudge
{
    public const int MinimumFailures = 3;

    /// <summary>Judges the window <paramref name="during"/>, taking out the bot's own aborted attempts (<paramref name="ownFailures"/>)
    /// and its own committed transactions (<paramref name="ownCommits"/>: probes, samples, statements).</summary>
    public static FailureRateReading Judge(TransactionCounts during, long ownFailures, long ownCommits, double? baselinePercent, double allowedPoints)
    {
        var failures = Math.Max(0, during.Rollbacks - ownFailures);
        var transactions = Math.Max(0, during.Commits - ownCommits) + failures;
        var percent = transactions == 0 ? 0 : 100.0 * failures / transactions;
        var baseline = baselinePercent ?? 0;
        var rose = failures >= MinimumFailures && percent - baseline > allowedPoints;
        var detail =
            $"{failures:N0} of {transactions:N0} application transactions failed ({percent:0.0} %; normally {baseline:0.0} %, allowed +{allowedPoints:0.#} points)" +
            (ownFailures > 0 || ownCommits > 0 ? $"; the bot's own {ownCommits:N0} transaction(s) and {ownFailures} aborted attempt(s) not counted" : "") +
            (during.Deadlocks > 0 ? $"; {during.Deadlocks} deadlock(s)" : "") +
            (during.SessionsLost is > 0 ? $"; {during.SessionsLost} session(s) lost" : "");
        return new FailureRateReading(rose, failures, transactions, percent, baselinePercent, detail);
    }
}
