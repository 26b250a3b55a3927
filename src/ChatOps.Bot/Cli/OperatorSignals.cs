using System.Runtime.InteropServices;
using ChatOps.Core.Execution;

namespace ChatOps.Bot.Cli;

/// <summary>
/// Ctrl-C and SIGTERM during a run: the first cancels it as <see cref="ExecutionControl"/> does (the running statement
/// cancelled, an INVALID index left by a cancelled build dropped, the verdict and the history written); the second forces
/// the process out.
/// </summary>
public sealed class OperatorSignals : IDisposable
{
    private readonly ExecutionControl _control;
    private readonly TextWriter _error;
    private readonly PosixSignalRegistration[] _registrations;
    private int _received;

    public OperatorSignals(ExecutionControl control, TextWriter error)
    {
        _control = control;
        _error = error;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>True once a signal asked the run to stop.</summary>
    public bool Received => Volatile.Read(ref _received) > 0;

    private void Handle(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _received) > 1)
        {
            _error.WriteLine($"{context.Signal} again: exiting now, without waiting for the clean-up. A statement already sent keeps running on the " +
                             "server until it ends, and its session keeps the run lock meanwhile (the next run names it, with the pg_terminate_backend " +
                             "that stops it); an INVALID index it leaves is dropped by the next run.");
            return;   // not cancelled: the runtime terminates the process
        }
        context.Cancel = true;
        _error.WriteLine($"{context.Signal}: stopping the run — the running statement is cancelled and cleaned up. {context.Signal} again to exit at once.");
        _control.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
    }
}
