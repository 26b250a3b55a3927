using System.Globalization;
using System.Text.RegularExpressions;
using ChatOps.Core.Reporting;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Reads <see cref="ReportingPolicy"/>: <c>ChatOps:Status:Interval</c> (default 00:15:00), <c>ChatOps:PostDeployment:Immediate</c> (02:00:00) and
/// <c>Extended</c> (24:00:00; 00:00:00 = no post-deployment monitoring), <c>ChatOps:Thresholds:OnBreach</c> (ask | rollback | alert) and
/// <c>AskTimeout</c> (00:05:00; 00:00:00 = wait for a person however long). Every problem says how to fix it.
/// </summary>
public static partial class ReportingSettings
{
    public static (ReportingPolicy? Policy, IReadOnlyList<string> Problems) Read(IConfiguration configuration)
    {
        var problems = new List<string>();
        var defaults = ReportingPolicy.Default;
        var interval = Span(configuration, "ChatOps:Status:Interval", defaults.Cadence.Interval, zeroAllowed: false, problems);
        var immediate = Span(configuration, "ChatOps:PostDeployment:Immediate", defaults.Cadence.Immediate, zeroAllowed: true, problems);
        var extended = Span(configuration, "ChatOps:PostDeployment:Extended", defaults.Cadence.Extended, zeroAllowed: true, problems);
        var askTimeout = Span(configuration, "ChatOps:Thresholds:AskTimeout", defaults.AskTimeout, zeroAllowed: true, problems);
        var onBreach = defaults.OnBreach;
        if (configuration[BreachPolicies.ConfigKey] is { Length: > 0 } text && !BreachPolicies.TryParse(text, out onBreach, out var error))
            problems.Add(error!);
        // A shorter Extended alone shortens the whole period: the default Immediate (2 h) is then all of it.
        if (configuration["ChatOps:PostDeployment:Immediate"] is not { Length: > 0 } && immediate > extended)
            immediate = extended;
        if (extended > TimeSpan.Zero && immediate > extended)
            problems.Add($"ChatOps:PostDeployment:Immediate ({immediate}) is longer than ChatOps:PostDeployment:Extended ({extended}): the 15-minute " +
                         "cadence runs for Immediate, then hourly until Extended — make Immediate the shorter one");
        return problems.Count > 0
            ? (null, problems)
            : (new ReportingPolicy(new StatusCadence { Interval = interval, Immediate = extended == TimeSpan.Zero ? TimeSpan.Zero : immediate, Extended = extended },
                onBreach, askTimeout), problems);
    }

    /// <summary>
    /// A duration as the issue writes them: <c>hh:mm:ss</c>, where <c>24:00:00</c> is a day (TimeSpan itself would read 24 days), or
    /// <c>d.hh:mm:ss</c>.
    /// </summary>
    private static TimeSpan Span(IConfiguration configuration, string key, TimeSpan fallback, bool zeroAllowed, List<string> problems)
    {
        if (configuration[key] is not { Length: > 0 } text)
            return fallback;
        text = text.Trim();
        TimeSpan value;
        if (HoursMinutesSeconds().Match(text) is { Success: true } m)
            value = TimeSpan.FromHours(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                    + TimeSpan.FromMinutes(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))
                    + TimeSpan.FromSeconds(double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
        else if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value))
        {
            problems.Add($"{key} is '{text}', not a duration: write hh:mm:ss (24:00:00 is a day) or d.hh:mm:ss (default {fallback:c})");
            return fallback;
        }
        if (value < TimeSpan.Zero || (!zeroAllowed && value == TimeSpan.Zero))
            problems.Add($"{key} is '{text}': it must be {(zeroAllowed ? "zero or more" : "more than zero")} (default {fallback:c})");
        return value;
    }

    [GeneratedRegex(@"^(\d{1,3}):([0-5]\d):([0-5]\d(?:\.\d+)?)$")]
    private static partial Regex HoursMinutesSeconds();
}
