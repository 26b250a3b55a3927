using System.Globalization;
using ChatOps.Core.Monitoring;

namespace ChatOps.Core.Reporting;

/// <summary>How the reporting messages write times, spans and metric values: one place, so every message agrees.</summary>
internal static class ReportText
{
    /// <summary>A time of day in UTC, to the minute: <c>09:15Z</c>. The channel's people may be in several time zones.</summary>
    public static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture) + "Z";

    /// <summary>A time of day in UTC, to the second (<c>09:14:35Z</c>): samples come every few seconds.</summary>
    public static string ClockSeconds(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + "Z";

    /// <summary>
    /// A configured span as people write it: <c>30 s</c>, <c>1m</c>, <c>1m30s</c>, <c>2h</c>, <c>2h30m</c>. Unlike
    /// <see cref="Execution.Durations.Short"/> (for measured durations) it drops zero parts: a window is "1m", not "1m00s".
    /// </summary>
    public static string Span(TimeSpan t)
    {
        if (t < TimeSpan.FromSeconds(1))
            return $"{Number(t.TotalMilliseconds)} ms";
        if (t < TimeSpan.FromMinutes(1))
            return $"{Number(t.TotalSeconds)} s";
        if (t < TimeSpan.FromHours(1))
            return t.Seconds == 0 ? $"{(int)t.TotalMinutes}m" : $"{(int)t.TotalMinutes}m{t.Seconds:00}s";
        return t.Minutes == 0 ? $"{(int)t.TotalHours}h" : $"{(int)t.TotalHours}h{t.Minutes:00}m";
    }

    /// <summary>At most two decimals, invariant: <c>1000</c>, <c>2.5</c>, <c>0.33</c>.</summary>
    public static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>A signed percentage: <c>+1.8 %</c>, <c>−14 %</c> (a real minus sign, as people write it).</summary>
    public static string SignedPercent(double value) =>
        value switch
        {
            > 0 => $"+{value.ToString("0.#", CultureInfo.InvariantCulture)} %",
            < 0 => $"−{(-value).ToString("0.#", CultureInfo.InvariantCulture)} %",
            _ => "0 %",
        };

    /// <summary>A reading of <paramref name="metric"/> with its unit: <c>412 ms</c>, <c>7</c>, <c>+12.5 %</c>, <c>1.1 ms</c>.</summary>
    public static string Value(Metric metric, double value) => metric switch
    {
        Metric.AppLockWaitMs => $"{value.ToString("0", CultureInfo.InvariantCulture)} ms",
        Metric.BlockedAppSessions => Number(value),
        Metric.QueryDegradationPercent => SignedPercent(value),
        Metric.RollbackRatioIncreasePoints => $"{value.ToString("+0.#;−0.#;0", CultureInfo.InvariantCulture)} pts",
        _ => $"{value.ToString("0.0", CultureInfo.InvariantCulture)} ms",
    };

    /// <summary>A rule's limit as the status shows it: <c>trigger &gt; 1000 ms for 1m</c>, <c>alert &gt; 10 % for 3 readings</c>.</summary>
    public static string Limit(ThresholdRule rule) =>
        $"{(rule.Action == BreachAction.RollbackTrigger ? "trigger" : "alert")} {Condition(rule)}";

    /// <summary>A rule in words: <c>application lock wait &gt; 1000 ms for 1m</c>.</summary>
    public static string Describe(ThresholdRule rule) => $"{rule.MetricLabel} {Condition(rule)}";

    private static string Condition(ThresholdRule rule)
    {
        var op = rule.Op == Comparison.GreaterThan ? ">" : "<";
        var window = rule.For is { } f ? $"for {Span(f)}" : $"for {rule.Rounds} readings";
        return $"{op} {Number(rule.Value)}{ThresholdRule.Unit(rule.Metric)} {window}";
    }

    /// <summary><c>1 statement</c>, <c>3 statements</c>.</summary>
    public static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n.ToString(CultureInfo.InvariantCulture)} {noun}s";
}
