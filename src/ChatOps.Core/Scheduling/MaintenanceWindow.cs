using System.Globalization;

namespace ChatOps.Core.Scheduling;

/// <summary>One occurrence of the maintenance window: the instants it opens and closes, and the zone people read it in.</summary>
/// <param name="TimeZone">The window's IANA time zone id (<c>Europe/Berlin</c>): how the times are said to people.</param>
public sealed record ScheduledWindow(DateTimeOffset Start, DateTimeOffset End, string TimeZone)
{
    /// <summary>True while the window is open at <paramref name="at"/>.</summary>
    public bool IsOpenAt(DateTimeOffset at) => at >= Start && at < End;
}

/// <summary>
/// <c>ChatOps:MaintenanceWindow</c> (issue 14 §5): a daily window, <c>Start</c> and <c>End</c> as <c>HH:mm</c> local times in an
/// IANA <c>TimeZone</c>. Pure: every question takes "now".
/// <list type="bullet">
/// <item>An <c>End</c> at or before <c>Start</c> crosses midnight (<c>23:00</c>–<c>01:00</c> ends the next day); equal times are refused.</item>
/// <item>A local time that does not exist (the daylight-saving gap: Europe/Berlin 2027-03-28 02:30) moves to the first valid
/// instant after it — the end of the gap (03:00 CEST).</item>
/// <item>A local time that exists twice (the overlap when clocks go back) is its first occurrence.</item>
/// <item><see cref="Next"/> offers the next window that opens <em>after</em> now: a window already open (or opening this
/// instant) is not offered. A deployment scheduled into a window gets the whole of it, and people get notice — the checklist's
/// 24-hour notice is about the next full window, not one already half gone.</item>
/// </list>
/// </summary>
public sealed class MaintenanceWindow
{
    /// <summary>Where the settings live.</summary>
    public const string Section = "ChatOps:MaintenanceWindow";

    /// <summary>How long before the window the reminder goes out (the checklist's 24-hour notice).</summary>
    public static readonly TimeSpan Notice = TimeSpan.FromHours(24);

    private MaintenanceWindow(TimeOnly start, TimeOnly end, TimeZoneInfo zone)
    {
        Start = start;
        End = end;
        Zone = zone;
    }

    /// <summary>When the window opens, local time.</summary>
    public TimeOnly Start { get; }

    /// <summary>When the window closes, local time (the next day when at or before <see cref="Start"/>).</summary>
    public TimeOnly End { get; }

    public TimeZoneInfo Zone { get; }

    /// <summary>True when the window closes the day after it opens.</summary>
    public bool CrossesMidnight => End <= Start;

    /// <summary>The window, or every problem with the settings (each says how to fix it).</summary>
    public static (MaintenanceWindow? Window, IReadOnlyList<string> Problems) Parse(string? start, string? end, string? timeZone)
    {
        var problems = new List<string>();
        var from = Time(start, "Start", "02:00", problems);
        var to = Time(end, "End", "04:00", problems);
        TimeZoneInfo? zone = null;
        if (string.IsNullOrWhiteSpace(timeZone))
            problems.Add($"{Section}:TimeZone is not set: write an IANA time zone id, e.g. Europe/Berlin, America/New_York or UTC");
        else
        {
            try
            {
                zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone.Trim());
            }
            catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
                problems.Add($"{Section}:TimeZone is '{timeZone}', which is no time zone this machine knows: write an IANA id, e.g. Europe/Berlin " +
                             "(the tz database is the tzdata package on Linux)");
            }
        }
        if (from is { } s && to is { } e && s == e)
            problems.Add($"{Section}: Start and End are both {s:HH\\:mm}: a window needs a length (an End before Start crosses midnight)");
        return problems.Count > 0 ? (null, problems) : (new MaintenanceWindow(from!.Value, to!.Value, zone!), problems);
    }

    private static TimeOnly? Time(string? value, string key, string example, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"{Section}:{key} is not set: write a local time as HH:mm, e.g. {example}");
            return null;
        }
        if (TimeOnly.TryParseExact(value.Trim(), "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
            return time;
        problems.Add($"{Section}:{key} is '{value}', not a time as HH:mm (00:00 to 23:59), e.g. {example}");
        return null;
    }

    /// <summary>The window that opens on <paramref name="date"/> (local), its start and end resolved to instants (in UTC).</summary>
    public ScheduledWindow On(DateOnly date) =>
        new(Resolve(date.ToDateTime(Start)).ToUniversalTime(), Resolve((CrossesMidnight ? date.AddDays(1) : date).ToDateTime(End)).ToUniversalTime(), Zone.Id);

    /// <summary>The next window that opens after <paramref name="now"/>; one open now (or opening this instant) is not offered.</summary>
    public ScheduledWindow Next(DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, Zone).DateTime);
        // Yesterday's window may still be open (crossing midnight); a gap can push a start past the next day's: look a few days on.
        for (var day = today.AddDays(-1); ; day = day.AddDays(1))
            if (On(day) is var window && window.Start > now)
                return window;
    }

    /// <summary>When the next window opens (<see cref="Next"/>).</summary>
    public DateTimeOffset NextStart(DateTimeOffset now) => Next(now).Start;

    /// <summary>The end of the window that opens at <paramref name="start"/> (a start from <see cref="Next"/> or <see cref="On"/>).</summary>
    public DateTimeOffset EndOf(DateTimeOffset start)
    {
        var local = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(start, Zone).DateTime);
        // A start moved past midnight by a gap still belongs to the day before's window: the day whose window opens at this start.
        foreach (var day in (DateOnly[])[local, local.AddDays(-1)])
            if (On(day) is var window && window.Start == start)
                return window.End;
        throw new ArgumentException($"{start:O} is not when a window opens ({Start:HH\\:mm} {Zone.Id})", nameof(start));
    }

    /// <summary>When to remind people of a window opening at <paramref name="start"/>: 24 hours before, or now when that has passed.</summary>
    public static DateTimeOffset ReminderAt(DateTimeOffset now, DateTimeOffset start) => start - Notice > now ? start - Notice : now;

    /// <summary>An instant as people read it: in the window's zone and in UTC (<c>Sun 2027-03-28 03:00 Europe/Berlin (UTC+02:00) · 01:00 UTC</c>).</summary>
    public string Describe(DateTimeOffset at) => Describe(at, Zone);

    /// <summary>An instant in <paramref name="zone"/> and in UTC.</summary>
    public static string Describe(DateTimeOffset at, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var utc = at.ToUniversalTime();
        var offset = local.Offset < TimeSpan.Zero ? "-" + local.Offset.ToString("hh\\:mm", CultureInfo.InvariantCulture) : "+" + local.Offset.ToString("hh\\:mm", CultureInfo.InvariantCulture);
        var utcText = utc.Date == local.Date
            ? utc.ToString("HH:mm", CultureInfo.InvariantCulture)
            : utc.ToString("ddd yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        return $"{local.ToString("ddd yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} {zone.Id} (UTC{offset}) · {utcText} UTC";
    }

    /// <summary>A window as people read it: its start and end in its zone, and in UTC.</summary>
    public static string Describe(ScheduledWindow window)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(window.TimeZone);
        var end = TimeZoneInfo.ConvertTime(window.End, zone);
        return $"{Describe(window.Start, zone)} until {end.ToString("HH:mm", CultureInfo.InvariantCulture)} ({window.End.ToUniversalTime().ToString("HH:mm", CultureInfo.InvariantCulture)} UTC)";
    }

    /// <summary>A local time as an instant: a time in the gap moves to the gap's end, a time in the overlap is its first occurrence.</summary>
    private DateTimeOffset Resolve(DateTime local)
    {
        if (Zone.IsInvalidTime(local))
        {
            // The first valid local time after it is the gap's end: a start at 02:30 in a 02:00–03:00 gap lands on 03:00 (the
            // configured times are whole minutes, and so is every transition in the tz database today).
            var valid = local;
            do
                valid = valid.AddMinutes(1);
            while (Zone.IsInvalidTime(valid));
            return new DateTimeOffset(valid, Zone.GetUtcOffset(valid));
        }
        if (Zone.IsAmbiguousTime(local))
            return new DateTimeOffset(local, Zone.GetAmbiguousTimeOffsets(local).Max());   // the larger offset is the earlier instant
        return new DateTimeOffset(local, Zone.GetUtcOffset(local));
    }
}
