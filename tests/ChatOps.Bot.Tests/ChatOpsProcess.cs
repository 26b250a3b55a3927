using System.Diagnostics;
using System.Text;

namespace ChatOps.Bot.Tests;

/// <summary>The built <c>chatops</c> binary, run as a user runs it: a separate process, its exit code and output.</summary>
public static class ChatOpsProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Minutes more than the demo takes on a loaded machine; only a hang gets there.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <param name="unset">Environment variables the process must not inherit (PGPASSWORD, say).</param>
    /// <param name="input">What the process reads on standard input (then end of input); null leaves it the console's.</param>
    public static Task<Result> RunAsync(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, IEnumerable<string>? unset = null,
        string? input = null) =>
        Start(arguments, environment, unset, input).WaitAsync();

    /// <summary>Starts the process and returns at once: for tests that signal or kill it while it runs.</summary>
    /// <param name="keepInputOpen">Leave standard input open after <paramref name="input"/>: the test writes more lines later (<see cref="Running.WriteLine"/>).</param>
    public static Running Start(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, IEnumerable<string>? unset = null,
        string? input = null, bool keepInputOpen = false)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "chatops.dll");
        // Through env(1), which resets SIGINT to its default and execs dotnet (same pid): a test runner started in the background
        // (`cmd &` in a script) hands its children SIGINT ignored, and .NET never sees a Ctrl-C it inherited as ignored.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null || keepInputOpen };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(dll);
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            start.Environment[k] = v;
        foreach (var k in unset ?? [])
            start.Environment.Remove(k);
        var process = Process.Start(start)!;
        if (input is not null)
            process.StandardInput.Write(input);
        if (input is not null && !keepInputOpen)
            process.StandardInput.Close();
        else if (keepInputOpen)
            process.StandardInput.Flush();
        return new Running(process, arguments.FirstOrDefault() ?? "");
    }

    /// <summary>A running <c>chatops</c>: its process (for signals), what it printed so far, and its end.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly string _verb;
        private readonly StringBuilder _output = new();
        private readonly StringBuilder _error = new();
        private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Running(Process process, string verb)
        {
            (_process, _verb) = (process, verb);
            _process.OutputDataReceived += (_, e) => Append(_output, e.Data, _outputClosed);
            _process.ErrorDataReceived += (_, e) => Append(_error, e.Data, _errorClosed);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Pid => _process.Id;

        /// <summary>One more line of standard input (started with <c>keepInputOpen</c>).</summary>
        public void WriteLine(string line)
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }

        /// <summary>Ends standard input: a <c>serve</c> with the local channel finishes its runs and exits.</summary>
        public void CloseInput() => _process.StandardInput.Close();

        /// <summary>Standard error so far (the logs).</summary>
        public string Error => Text(_error);

        /// <summary>Standard output so far.</summary>
        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>Sends a POSIX signal (INT, TERM, KILL) as a shell's <c>kill</c> would.</summary>
        public void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        public async Task<Result> WaitAsync()
        {
            using var timeout = new CancellationTokenSource(Timeout);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // A hung run fails the test with what it printed, and does not outlive it.
                _process.Kill(entireProcessTree: true);
                // The verb only: the arguments may carry a connection string.
                throw new TimeoutException($"chatops {_verb} still running after {Timeout.TotalMinutes:0} min; output:\n{Output}\nerror:\n{Text(_error)}");
            }
            // A server it started may hold the pipes open: take what came, without waiting on it forever.
            await Task.WhenAny(Task.WhenAll(_outputClosed.Task, _errorClosed.Task), Task.Delay(TimeSpan.FromSeconds(10)));
            return new Result(_process.ExitCode, Output, Text(_error));
        }

        private static void Append(StringBuilder into, string? line, TaskCompletionSource closed)
        {
            if (line is null)
            {
                closed.TrySetResult();
                return;
            }
            lock (into) into.Append(line).Append('\n');
        }

        private static string Text(StringBuilder b)
        {
            lock (b) return b.ToString();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}
