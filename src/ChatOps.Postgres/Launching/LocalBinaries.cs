using System.Diagnostics;

namespace ChatOps.Postgres.Launching;

internal readonly record struct BinariesProbe(string? Directory, string Reason);

/// <summary>Finds PostgreSQL server binaries: <c>pg_config --bindir</c>, then <c>/usr/lib/postgresql/&lt;newest&gt;/bin</c>.</summary>
internal static class LocalBinaries
{
    private static readonly string[] Required = ["initdb", "pg_ctl", "postgres"];

    public static BinariesProbe Find()
    {
        var candidates = new List<string>();
        if (PgConfigBinDir() is { } fromPgConfig)
            candidates.Add(fromPgConfig);
        if (System.IO.Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (dir: d, version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .OrderByDescending(x => x.version)
                .Select(x => Path.Combine(x.dir, "bin")));
        }

        foreach (var dir in candidates)
        {
            if (Required.All(b => File.Exists(Path.Combine(dir, b))))
                return new BinariesProbe(dir, $"found in {dir}");
        }
        return new BinariesProbe(null, candidates.Count == 0
            ? "no pg_config on PATH and no /usr/lib/postgresql/<version>/bin"
            : $"initdb/pg_ctl/postgres not found in {string.Join(", ", candidates)}");
    }

    private static string? PgConfigBinDir()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("pg_config", "--bindir")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (p is null)
                return null;
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;   // pg_config is not installed
        }
    }
}
