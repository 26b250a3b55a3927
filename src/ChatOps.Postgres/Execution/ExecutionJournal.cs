using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;

namespace ChatOps.Postgres.Execution;

/// <summary>One statement's completion, as journaled.</summary>
/// <param name="Postcondition">What the catalog showed when it completed, where it can tell.</param>
public sealed record JournalEntry(int Statement, int Line, DateTimeOffset At, string? Postcondition, PostconditionVerdict Verdict);

/// <summary>
/// Where the executor records each statement's start and completion, so a caller can resume after a crash
/// without re-running what completed. Bound to one script version by its SHA-256.
/// </summary>
public interface IExecutionJournal
{
    /// <summary>Statements recorded as completed.</summary>
    Task<IReadOnlyDictionary<int, JournalEntry>> CompletedAsync(CancellationToken cancellationToken);

    /// <summary>The statements that were started but not recorded as completed (a crash mid-statement), if any.</summary>
    Task<IReadOnlyList<int>> InterruptedAsync(CancellationToken cancellationToken);

    Task StartedAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken);

    Task CompletedAsync(JournalEntry entry, CancellationToken cancellationToken);
}

/// <summary>A journal that lives as long as the process (a rollback's, and the executor's when given none); runs keep theirs in the target (<c>TargetHistory</c>).</summary>
public sealed class InMemoryExecutionJournal : IExecutionJournal
{
    private readonly Dictionary<int, JournalEntry> _completed = [];
    private readonly List<int> _started = [];

    public Task<IReadOnlyDictionary<int, JournalEntry>> CompletedAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<int, JournalEntry>>(new Dictionary<int, JournalEntry>(_completed));

    public Task<IReadOnlyList<int>> InterruptedAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<int>>(_started.Where(n => !_completed.ContainsKey(n)).ToList());

    public Task StartedAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
    {
        _started.AddRange(statements.Select(s => s.Number));
        return Task.CompletedTask;
    }

    public Task CompletedAsync(JournalEntry entry, CancellationToken cancellationToken)
    {
        _completed[entry.Statement] = entry;
        return Task.CompletedTask;
    }
}
