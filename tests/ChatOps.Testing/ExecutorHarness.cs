using System.Collections.Concurrent;
using ChatOps.Core.Execution;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Options;

namespace ChatOps.Testing;

/// <summary>Runs the lock-safe executor against a test database and keeps every event it reports.</summary>
public sealed class ExecutorHarness(string connectionString, ExecutionOptions? options = null)
{
    private readonly ConcurrentQueue<ExecutionEvent> _events = new();

    public ExecutionOptions Options { get; } = options ?? new ExecutionOptions();
    public ExecutionControl Control { get; } = new();
    public IExecutionJournal Journal { get; set; } = new InMemoryExecutionJournal();
    public string RunId { get; } = $"test-{Guid.NewGuid():N}"[..13];

    /// <summary>Called on every event, on the executor's thread (e.g. to pause after a statement).</summary>
    public Action<ExecutionEvent>? OnEvent { get; set; }

    public IReadOnlyList<ExecutionEvent> Events => _events.ToArray();
    public IEnumerable<T> EventsOf<T>() where T : ExecutionEvent => _events.OfType<T>();

    public Task<ExecutionResult> RunAsync(string sql, CancellationToken cancellationToken = default) =>
        new LockSafeExecutor(Options, TimeProvider.System).RunAsync(
            new ExecutionRequest(connectionString, SqlScript.Parse(sql), RunId, e =>
            {
                _events.Enqueue(e);
                OnEvent?.Invoke(e);
            }, Journal, Control),
            cancellationToken);

    /// <summary>Waits (polling, bounded) until an event matching <paramref name="match"/> has been reported.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool>? match = null, TimeSpan? timeout = null) where T : ExecutionEvent
    {
        T? found = null;
        await Poll.UntilAsync(() => Task.FromResult((found = _events.OfType<T>().FirstOrDefault(e => match?.Invoke(e) ?? true)) is not null),
            $"a {typeof(T).Name} event", timeout,
            () => Task.FromResult($"events {string.Join(", ", _events.Select(e => e.GetType().Name))}"));
        return found!;
    }
}
