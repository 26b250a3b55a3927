using System.Text.Json;
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

/// <summary>A journal that lives as long as the process (the command line's default).</summary>
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

/// <summary>
/// A journal in a JSON-lines file, flushed to disk on every line, so it survives the process. The first
/// line names the script's SHA-256; a journal of another script version is refused.
/// </summary>
public sealed class FileExecutionJournal : IExecutionJournal
{
    private sealed record Line(string Kind, string? Sha256 = null, int[]? Statements = null, JournalEntry? Entry = null);

    private readonly string _path;
    private readonly Dictionary<int, JournalEntry> _completed = [];
    private readonly HashSet<int> _started = [];

    private FileExecutionJournal(string path) => _path = path;

    /// <summary>Opens (or creates) the journal at <paramref name="path"/> for the script with <paramref name="sha256"/>.</summary>
    public static async Task<FileExecutionJournal> OpenAsync(string path, string sha256, CancellationToken cancellationToken)
    {
        var journal = new FileExecutionJournal(path);
        if (!File.Exists(path))
        {
            await journal.AppendAsync(new Line("script", Sha256: sha256), cancellationToken);
            return journal;
        }
        foreach (var text in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            Line? line;
            try
            {
                line = JsonSerializer.Deserialize<Line>(text);
            }
            catch (JsonException)
            {
                break;   // a line torn by a crash mid-write: everything before it stands
            }
            switch (line)
            {
                case { Kind: "script" } when line.Sha256 != sha256:
                    throw new InvalidOperationException(
                        $"journal {path} belongs to another version of the script (sha256 {line.Sha256?[..12]}…, now {sha256[..12]}…): the migration file changed since that run. Move the journal away to start over.");
                case { Kind: "started", Statements: { } numbers }:
                    journal._started.UnionWith(numbers);
                    break;
                case { Kind: "completed", Entry: { } entry }:
                    journal._completed[entry.Statement] = entry;
                    break;
            }
        }
        return journal;
    }

    public Task<IReadOnlyDictionary<int, JournalEntry>> CompletedAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<int, JournalEntry>>(new Dictionary<int, JournalEntry>(_completed));

    public Task<IReadOnlyList<int>> InterruptedAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<int>>(_started.Where(n => !_completed.ContainsKey(n)).Order().ToList());

    public async Task StartedAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
    {
        var numbers = statements.Select(s => s.Number).ToArray();
        await AppendAsync(new Line("started", Statements: numbers), cancellationToken);
        _started.UnionWith(numbers);
    }

    public async Task CompletedAsync(JournalEntry entry, CancellationToken cancellationToken)
    {
        await AppendAsync(new Line("completed", Entry: entry), cancellationToken);
        _completed[entry.Statement] = entry;
    }

    private async Task AppendAsync(Line line, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(line) + "\n");
        await stream.WriteAsync(bytes, cancellationToken);
        stream.Flush(flushToDisk: true);
    }
}
