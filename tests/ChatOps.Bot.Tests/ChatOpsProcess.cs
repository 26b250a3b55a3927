using System.Diagnostics;

namespace ChatOps.Bot.Tests;

/// <summary>The built <c>chatops</c> binary, run as a user runs it: a separate process, its exit code and output.</summary>
public static class ChatOpsProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Minutes more than the demo takes on a loaded machine; only a hang gets there.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <param name="unset">Environment variables the process must not inherit (PGPASSWORD, say).</param>
    public static async Task<Result> RunAsync(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, IEnumerable<string>? unset = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "chatops.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            start.Environment[k] = v;
        foreach (var k in unset ?? [])
            start.Environment.Remove(k);

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A hung run fails the test with what it printed, and does not outlive it.
            process.Kill(entireProcessTree: true);
            // A server it started may hold the pipes open: take what came, without waiting on it.
            await Task.WhenAny(Task.WhenAll(output, error), Task.Delay(TimeSpan.FromSeconds(10)));
            // The verb only: the arguments may carry a connection string.
            throw new TimeoutException($"chatops {arguments.FirstOrDefault()} still running after {Timeout.TotalMinutes:0} min; " +
                                       $"output:\n{Printed(output)}\nerror:\n{Printed(error)}");
        }
        return new Result(process.ExitCode, await output, await error);
    }

    private static string Printed(Task<string> stream) => stream.IsCompletedSuccessfully ? stream.Result : "(still open)";
}
