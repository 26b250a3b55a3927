using ChatOps.Core.Scheduling;

namespace ChatOps.Core.Tests;

/// <summary>The maintenance window (issue 14 §5): next start, end, reminder, time zones and daylight saving.</summary>
public class MaintenanceWindowTests
{
    private static MaintenanceWindow Window(string start = "02:00", string end = "04:00", string zone = "Europe/Berlin")
    {
        var (window, problems) = MaintenanceWindow.Parse(start, end, zone);
        Assert.Empty(problems);
        return window!;
    }

    private static DateTimeOffset Utc(string text) => DateTimeOffset.Parse(text + "Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_next_window_is_today_s_when_it_has_not_opened_yet_and_tomorrow_s_when_it_is_open_or_over()
    {
        var window = Window();   // Berlin in winter: UTC+1, 02:00–04:00 local = 01:00–03:00 UTC

        Assert.Equal(Utc("2027-01-15T01:00:00"), window.NextStart(Utc("2027-01-14T23:00:00")));   // 00:00 local: today's 02:00
        Assert.Equal(Utc("2027-01-16T01:00:00"), window.NextStart(Utc("2027-01-15T01:30:00")));   // inside today's: the next full one
        Assert.Equal(Utc("2027-01-16T01:00:00"), window.NextStart(Utc("2027-01-15T01:00:00")));   // opening this instant: the next one
        Assert.Equal(Utc("2027-01-16T01:00:00"), window.NextStart(Utc("2027-01-15T10:00:00")));   // over: tomorrow's
        var next = window.Next(Utc("2027-01-14T23:00:00"));
        Assert.Equal(Utc("2027-01-15T03:00:00"), next.End);
        Assert.Equal("Europe/Berlin", next.TimeZone);
        Assert.Equal(next.End, window.EndOf(next.Start));
        Assert.True(next.IsOpenAt(Utc("2027-01-15T02:59:59")));
        Assert.False(next.IsOpenAt(next.End));
    }

    [Fact]
    public void A_window_crossing_midnight_ends_the_next_day_and_one_open_since_yesterday_is_not_offered()
    {
        var window = Window("23:00", "01:00", "UTC");

        Assert.True(window.CrossesMidnight);
        var next = window.Next(Utc("2027-01-15T12:00:00"));
        Assert.Equal((Utc("2027-01-15T23:00:00"), Utc("2027-01-16T01:00:00")), (next.Start, next.End));
        // 00:30: yesterday's window is open; the next one is tonight's.
        Assert.Equal(Utc("2027-01-15T23:00:00"), window.NextStart(Utc("2027-01-15T00:30:00")));
        Assert.Equal(Utc("2027-01-16T01:00:00"), window.EndOf(Utc("2027-01-15T23:00:00")));
    }

    [Fact]
    public void The_reminder_goes_24_hours_before_the_window_or_now_when_that_has_passed()
    {
        var start = Utc("2027-01-16T01:00:00");

        Assert.Equal(Utc("2027-01-15T01:00:00"), MaintenanceWindow.ReminderAt(Utc("2027-01-14T09:00:00"), start));
        Assert.Equal(Utc("2027-01-15T09:00:00"), MaintenanceWindow.ReminderAt(Utc("2027-01-15T09:00:00"), start));
        Assert.Equal(Utc("2027-01-15T01:00:00"), MaintenanceWindow.ReminderAt(Utc("2027-01-15T01:00:00"), start));
    }

    [Fact]
    public void A_start_in_the_spring_gap_moves_to_the_first_valid_instant_after_it_in_Berlin()
    {
        // 2027-03-28: Berlin's clocks go from 02:00 CET straight to 03:00 CEST; 02:30 does not exist.
        var window = Window("02:30", "04:00");

        var next = window.Next(Utc("2027-03-27T12:00:00"));

        Assert.Equal(Utc("2027-03-28T01:00:00"), next.Start);   // 03:00 CEST, the gap's end
        Assert.Equal(TimeSpan.FromHours(2), TimeZoneInfo.ConvertTime(next.Start, window.Zone).Offset);
        Assert.Equal(Utc("2027-03-28T02:00:00"), next.End);     // 04:00 CEST
        Assert.Equal(next.End, window.EndOf(next.Start));
        // The days around it are ordinary.
        Assert.Equal(Utc("2027-03-27T01:30:00"), window.NextStart(Utc("2027-03-26T12:00:00")));   // 02:30 CET
        Assert.Equal(Utc("2027-03-29T00:30:00"), window.NextStart(Utc("2027-03-28T12:00:00")));   // 02:30 CEST
    }

    [Fact]
    public void A_start_in_the_spring_gap_moves_to_the_first_valid_instant_after_it_in_New_York()
    {
        // 2027-03-14: New York goes from 02:00 EST to 03:00 EDT; the window 02:00–04:00 opens at 03:00 EDT.
        var window = Window("02:00", "04:00", "America/New_York");

        var next = window.Next(Utc("2027-03-13T12:00:00"));

        Assert.Equal(Utc("2027-03-14T07:00:00"), next.Start);   // 03:00 EDT (UTC-4)
        Assert.Equal(Utc("2027-03-14T08:00:00"), next.End);     // 04:00 EDT: a one-hour window that night
        Assert.Contains("Sun 2027-03-14 03:00 America/New_York (UTC-04:00) · 07:00 UTC", window.Describe(next.Start));
    }

    [Fact]
    public void A_start_in_the_autumn_overlap_is_its_first_occurrence()
    {
        // 2027-10-31: Berlin's 02:00–03:00 happens twice (CEST, then CET); 02:30 is the first one, in summer time.
        var window = Window("02:30", "04:00");

        var next = window.Next(Utc("2027-10-30T12:00:00"));

        Assert.Equal(Utc("2027-10-31T00:30:00"), next.Start);   // 02:30 CEST
        Assert.Equal(Utc("2027-10-31T03:00:00"), next.End);     // 04:00 CET
    }

    [Fact]
    public void A_time_is_described_in_the_window_s_zone_and_in_UTC()
    {
        var window = Window("02:00", "04:00");

        Assert.Equal("Fri 2027-01-15 02:00 Europe/Berlin (UTC+01:00) · 01:00 UTC", window.Describe(Utc("2027-01-15T01:00:00")));
        Assert.Equal("Fri 2027-01-15 00:30 Europe/Berlin (UTC+01:00) · Thu 2027-01-14 23:30 UTC", window.Describe(Utc("2027-01-14T23:30:00")));
        Assert.Equal("Fri 2027-01-15 02:00 Europe/Berlin (UTC+01:00) · 01:00 UTC until 04:00 (03:00 UTC)",
            MaintenanceWindow.Describe(window.Next(Utc("2027-01-14T12:00:00"))));
    }

    [Theory]
    [InlineData(null, "04:00", "Europe/Berlin", "ChatOps:MaintenanceWindow:Start is not set: write a local time as HH:mm, e.g. 02:00")]
    [InlineData("2am", "04:00", "Europe/Berlin", "ChatOps:MaintenanceWindow:Start is '2am', not a time as HH:mm (00:00 to 23:59), e.g. 02:00")]
    [InlineData("02:00", "24:00", "Europe/Berlin", "ChatOps:MaintenanceWindow:End is '24:00', not a time as HH:mm (00:00 to 23:59), e.g. 04:00")]
    [InlineData("02:00", "04:00", null, "ChatOps:MaintenanceWindow:TimeZone is not set: write an IANA time zone id, e.g. Europe/Berlin, America/New_York or UTC")]
    [InlineData("02:00", "04:00", "Mars/Olympus", "ChatOps:MaintenanceWindow:TimeZone is 'Mars/Olympus', which is no time zone this machine knows")]
    [InlineData("02:00", "02:00", "UTC", "ChatOps:MaintenanceWindow: Start and End are both 02:00: a window needs a length")]
    public void Bad_settings_are_refused_saying_how_to_write_them(string? start, string? end, string? zone, string problem)
    {
        var (window, problems) = MaintenanceWindow.Parse(start, end, zone);

        Assert.Null(window);
        Assert.Contains(problems, p => p.StartsWith(problem, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_listed_at_once()
    {
        var (_, problems) = MaintenanceWindow.Parse("x", "y", "Nowhere/Else");

        Assert.Equal(3, problems.Count);
    }
}
