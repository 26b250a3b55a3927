using System.Globalization;

namespace ChatOps.Benchmarks;

/// <summary>The machine a run was measured on, and how busy it was when the run began (a shared machine's figures depend on it).</summary>
public sealed record MachineNote(string Date, int Cores, string Describe)
{
    public static MachineNote Now()
    {
        var cores = Environment.ProcessorCount;
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[..3] : null;
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return new MachineNote(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), cores,
            string.Create(CultureInfo.InvariantCulture, $"machine: {cores} cores, {memory:0} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}") +
            (load is null ? "" : $"; load average when the run began {string.Join(" / ", load)} (1 / 5 / 15 min)"));
    }
}
