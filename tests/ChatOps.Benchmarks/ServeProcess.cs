using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ChatOps.Benchmarks;

/// <summary>
/// The built <c>chatops serve</c> (copied beside the benchmark), run as an operator runs it: its own process, configured by environment
/// variables, listening on a free port of 127.0.0.1. Its logs go to a file (the last lines are kept for error messages).
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _logClosed;

    private ServeProcess(Process process, Uri url, string logPath)
    {
        (_process, Url, LogPath) = (process, url, logPath);
        _log = new StreamWriter(logPath) { AutoFlush = false };
        _process.OutputDataReceived += (_, e) => Append(e.Data, _outputClosed);
        _process.ErrorDataReceived += (_, e) => Append(e.Data, _errorClosed);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The bot's root, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri Url { get; }

    /// <summary>Where its standard output and error go.</summary>
    public string LogPath { get; }

    /// <summary>The process id (its CPU time is read from <c>/proc</c>).</summary>
    public int Pid => _process.Id;

    /// <summary>Starts <c>serve</c> with <paramref name="environment"/> and waits until <c>/readyz</c> answers 200.</summary>
    public static async Task<ServeProcess> StartAsync(IReadOnlyDictionary<string, string> environment, TimeProvider time, CancellationToken cancellationToken)
    {
        var url = new Uri($"http://127.0.0.1:{FreePort()}/");
        // Through env(1), which resets SIGINT to its default: a benchmark started in the background hands its children SIGINT ignored.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "chatops.dll"), "serve", "--urls", url.AbsoluteUri.TrimEnd('/') })
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        var logPath = Path.Combine(Path.GetTempPath(), $"chatops-bench-serve-{Environment.ProcessId}-{time.GetUtcNow():HHmmss}.log");
        var serve = new ServeProcess(Process.Start(start)!, url, logPath);
        using var http = new HttpClient();
        var started = time.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (serve._process.HasExited)
                throw new InvalidOperationException($"chatops serve exited with {serve._process.ExitCode} before it was ready:\n{serve.Tail}");
            try
            {
                if ((await http.GetAsync(new Uri(url, "readyz"), cancellationToken)).IsSuccessStatusCode)
                    return serve;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (time.GetElapsedTime(started) > TimeSpan.FromMinutes(2))
            {
                await serve.DisposeAsync();
                throw new TimeoutException($"chatops serve was not ready after 2 minutes:\n{serve.Tail}");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken);
        }
    }

    /// <summary>The last lines it wrote.</summary>
    public string Tail
    {
        get
        {
            lock (_tail)
                return string.Join('\n', _tail);
        }
    }

    /// <summary>CPU time (user + system) the process has used so far, from <c>/proc/pid/stat</c>; null where there is no <c>/proc</c>.</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name; in clock ticks (100 a second on Linux).
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>SIGTERM, as a service manager stops it (deployments held are let go), and waits for the exit; its exit code.</summary>
    public async Task<int> StopAsync(CancellationToken cancellationToken)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
            await kill.WaitForExitAsync(cancellationToken);
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(limit.Token);
        await Task.WhenAny(Task.WhenAll(_outputClosed.Task, _errorClosed.Task), Task.Delay(TimeSpan.FromSeconds(5), cancellationToken));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        lock (_tail)
        {
            _logClosed = true;
            _log.Dispose();
        }
    }

    private void Append(string? line, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }
        lock (_tail)
        {
            if (_logClosed)
                return;
            _log.WriteLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > 40)
                _tail.Dequeue();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
