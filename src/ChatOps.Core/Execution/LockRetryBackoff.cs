namespace ChatOps.Core.Execution;

/// <summary>
/// Sleep between attempts after a lock timeout: short at first (50 ms), doubling to a 5 s cap, with ±25 %
/// jitter so that several waiters do not knock in step.
/// </summary>
public sealed class LockRetryBackoff(Random random)
{
    public static readonly TimeSpan First = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(5);

    /// <summary>The sleep after failed attempt number <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan After(int attempt)
    {
        var exponent = Math.Min(attempt - 1, 16);
        var nominal = Math.Min(First.TotalMilliseconds * Math.Pow(2, exponent), Cap.TotalMilliseconds);
        var jitter = 0.75 + random.NextDouble() * 0.5;
        return TimeSpan.FromMilliseconds(nominal * jitter);
    }
}
