using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ChatOps.Postgres.Launching;

/// <summary>
/// A temporary PostgreSQL cluster from local server binaries: <c>initdb</c> into a fresh folder under
/// <see cref="DefaultRoot"/>, <c>pg_ctl start</c> on a free loopback port. As root the binaries run as
/// the <c>postgres</c> user (initdb refuses root). Each folder records its owning process; clusters
/// whose owner is gone (a killed test run) are stopped and removed by the next launch.
/// </summary>
public static class LocalCluster
{
    /// <summary>Enough for the benchmark's 220 connections plus the bot's own.</summary>
    public const int MaxConnections = 300;

    private const string OwnerFile = "owner";
    private const string ServiceUser = "postgres";

    /// <summary>Where clusters live: one folder per cluster, shared by every process of this machine.</summary>
    public static string DefaultRoot { get; } = Path.Combine(Path.GetTempPath(), "chatops-pg");

    /// <summary>The local server binaries' folder, or null with why (none installed, say).</summary>
    public static (string? Directory, string Reason) Binaries()
    {
        var probe = LocalBinaries.Find();
        return (probe.Directory, probe.Reason);
    }

    /// <summary>Starts a cluster owned by <paramref name="ownerPid"/>, after removing stale ones under <paramref name="root"/>.
    /// With <paramref name="watchOwner"/>, a detached watchdog stops and removes the cluster within a second of the
    /// owner's death, however it dies (a test host killed by its runner gets no chance to clean up).
    /// With <paramref name="superuserPassword"/>, TCP connections need it (<c>scram-sha-256</c> in pg_hba.conf) and the
    /// returned connection string carries it; the Unix socket stays <c>trust</c> for pg_ctl.</summary>
    public static async Task<ThrowawayPostgres> StartAsync(string binDir, string root, int ownerPid, ILogger logger, CancellationToken cancellationToken,
        bool watchOwner = true, string? superuserPassword = null)
    {
        var asRoot = Environment.UserName == "root";
        CreateOpenDirectory(root);
        await RemoveStaleAsync(binDir, root, logger, cancellationToken);

        var folder = Path.Combine(root, $"{ownerPid}-{Guid.NewGuid():N}"[..24]);
        CreateOpenDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, OwnerFile), OwnerRecord(ownerPid), cancellationToken);
        var data = Path.Combine(folder, "data");

        try
        {
            if (superuserPassword is null)
            {
                await RunAsync(asRoot, Path.Combine(binDir, "initdb"),
                    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], cancellationToken);
            }
            else
            {
                // The password goes through a file, never an argument (the process list shows arguments).
                var passwordFile = Path.Combine(folder, "pwfile");
                await File.WriteAllTextAsync(passwordFile, superuserPassword + "\n", cancellationToken);
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                try
                {
                    await RunAsync(asRoot, Path.Combine(binDir, "initdb"),
                        ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", $"--pwfile={passwordFile}",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], cancellationToken);
                }
                finally
                {
                    File.Delete(passwordFile);
                }
            }

            // A free port can be taken by someone else between our probe and the server's bind: retry.
            for (var attempt = 1; ; attempt++)
            {
                var port = FreeLoopbackPort();
                var settings = string.Join(' ',
                    $"-p {port}", "-c listen_addresses=127.0.0.1", $"-c unix_socket_directories={folder}",
                    $"-c max_connections={MaxConnections}",
                    // Throwaway data: durability buys nothing here and costs every test a fsync.
                    "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off");
                try
                {
                    await RunAsync(asRoot, Path.Combine(binDir, "pg_ctl"),
                        ["-D", data, "-l", Path.Combine(folder, "server.log"), "-o", settings, "-w", "-t", "60", "start"], cancellationToken);
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    continue;
                }

                if (watchOwner)
                    StartWatchdog(binDir, folder, ownerPid, asRoot);
                var version = Path.GetFileName(Path.GetDirectoryName(binDir)) ?? "?";
                var connectionString = new Npgsql.NpgsqlConnectionStringBuilder($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres")
                {
                    Password = superuserPassword,
                }.ConnectionString;
                logger.LogInformation("Started a local PostgreSQL {Version} cluster on 127.0.0.1:{Port} in {Folder}", version, port, folder);
                return new ThrowawayPostgres(connectionString,
                    $"local cluster on 127.0.0.1:{port} (PostgreSQL {version}, {folder})",
                    () => new ValueTask(StopAndRemoveAsync(binDir, folder, asRoot, CancellationToken.None)));
            }
        }
        catch
        {
            await StopAndRemoveAsync(binDir, folder, asRoot, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Stops and deletes every cluster under <paramref name="root"/> whose owning process is gone.</summary>
    public static async Task<int> RemoveStaleAsync(string binDir, string root, ILogger logger, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(root))
            return 0;
        var removed = 0;
        foreach (var folder in Directory.GetDirectories(root))
        {
            if (IsOwnerAlive(folder))
                continue;
            logger.LogInformation("Removing stale PostgreSQL cluster {Folder} (its owning process is gone)", folder);
            await StopAndRemoveAsync(binDir, folder, Environment.UserName == "root", cancellationToken);
            removed++;
        }
        return removed;
    }

    private static async Task StopAndRemoveAsync(string binDir, string folder, bool asRoot, CancellationToken cancellationToken)
    {
        var data = Path.Combine(folder, "data");
        if (File.Exists(Path.Combine(data, "postmaster.pid")))
        {
            try
            {
                await RunAsync(asRoot, Path.Combine(binDir, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], cancellationToken);
            }
            catch (InvalidOperationException)
            {
                // Not running (a stale pid file): nothing to stop, the folder still goes.
            }
        }
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void StartWatchdog(string binDir, string folder, int ownerPid, bool asRoot)
    {
        var pgCtl = (asRoot ? $"runuser -u {ServiceUser} -- " : "") + Quote(Path.Combine(binDir, "pg_ctl"));
        // The inner subshell is orphaned at once (its parent sh exits), so killing the owner's process
        // tree does not take the watchdog with it.
        var script = $"( while kill -0 {ownerPid} 2>/dev/null; do sleep 1; done; " +
                     $"[ -f {Quote(Path.Combine(folder, "data", "postmaster.pid"))} ] && {pgCtl} -D {Quote(Path.Combine(folder, "data"))} -m immediate -w stop; " +
                     $"rm -rf {Quote(folder)} ) >/dev/null 2>&1 </dev/null &";
        using var watchdog = Process.Start(new ProcessStartInfo("setsid", ["sh", "-c", script]) { UseShellExecute = false });
        watchdog?.WaitForExit();
    }

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''") + "'";

    private static bool IsOwnerAlive(string folder)
    {
        var ownerFile = Path.Combine(folder, OwnerFile);
        string[] parts;
        try
        {
            parts = File.ReadAllText(ownerFile).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            // No owner record: a folder being created right now, or debris. Give it an hour.
            return Directory.GetLastWriteTimeUtc(folder) > TimeProvider.System.GetUtcNow().UtcDateTime.AddHours(-1);
        }
        if (parts.Length < 2 || !int.TryParse(parts[0], out var pid))
            return false;
        // The start time guards against the pid having been reused by an unrelated process.
        return ProcessStartTicks(pid) is { } ticks && ticks.ToString(CultureInfo.InvariantCulture) == parts[1];
    }

    private static string OwnerRecord(int pid) =>
        $"{pid} {ProcessStartTicks(pid)?.ToString(CultureInfo.InvariantCulture) ?? "0"}";

    /// <summary>
    /// When the process started, identically whichever process asks: on Linux the kernel's start time in
    /// clock ticks since boot (<c>/proc/&lt;pid&gt;/stat</c>, field 22). <see cref="Process.StartTime"/> is derived
    /// from the asking process's own idea of boot time and differs between processes by fractions of a
    /// second, which made one test process judge another's live cluster stale and stop it.
    /// </summary>
    private static long? ProcessStartTicks(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (File.Exists("/proc/self/stat"))
        {
            try
            {
                var text = File.ReadAllText(stat);
                // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
                var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                return fields[0] == "Z" ? null : long.Parse(fields[19], CultureInfo.InvariantCulture);   // a zombie has exited; field 22 overall
            }
            catch (IOException)
            {
                return null;   // no such process
            }
        }
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.HasExited ? null : p.StartTime.ToUniversalTime().Ticks;
        }
        catch (ArgumentException)
        {
            return null;   // no such process
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void CreateOpenDirectory(string path)
    {
        Directory.CreateDirectory(path);
        // The postgres user must reach the folder when we run as root; the cluster itself is 0700.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
    }

    private static async Task RunAsync(bool asServiceUser, string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = asServiceUser
            ? new ProcessStartInfo("runuser", ["-u", ServiceUser, "--", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = Path.GetTempPath();

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} exited with {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}".Trim());
        }
    }
}
