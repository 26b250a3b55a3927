using ChatOps.Core.Migrations;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using Npgsql;

namespace ChatOps.Postgres.History;

/// <summary>
/// What the target knows about its own migrations, in its <c>chatops</c> schema (as Flyway's <c>flyway_schema_history</c>
/// or Rails' <c>schema_migrations</c>): every run and rollback (<c>chatops.migration_history</c>: id, SHA-256, who, when,
/// outcome) and the statement journal a resumed run continues from (<c>chatops.statement_journal</c>). The command line,
/// every bot replica and a person with psql see the same truth. Writes happen under the run lock.
/// </summary>
public sealed class TargetHistory : IAsyncDisposable
{
    private const string CreateSql = """
        CREATE SCHEMA IF NOT EXISTS chatops;
        CREATE TABLE IF NOT EXISTS chatops.migration_history (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            migration   text NOT NULL,
            sha256      text NOT NULL,
            kind        text NOT NULL CHECK (kind IN ('run', 'rollback')),
            run_id      text NOT NULL,
            applied_by  text NOT NULL,
            client      text NOT NULL,
            started_at  timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            outcome     text NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
            verdict_ok  boolean,
            detail      text);
        CREATE INDEX IF NOT EXISTS migration_history_latest ON chatops.migration_history (migration, id DESC);
        CREATE TABLE IF NOT EXISTS chatops.statement_journal (
            migration     text NOT NULL,
            sha256        text NOT NULL,
            statement     int NOT NULL,
            line          int NOT NULL,
            statement_sha256 text NOT NULL,
            run_id        text NOT NULL,
            started_at    timestamptz NOT NULL DEFAULT now(),
            completed_at  timestamptz,
            postcondition text,
            verdict       text,
            PRIMARY KEY (migration, statement));
        COMMENT ON TABLE chatops.migration_history IS 'ChatOps: every run and rollback of a migration on this database';
        COMMENT ON TABLE chatops.statement_journal IS 'ChatOps: statements completed by the latest run of each migration (a resumed run continues after them)';
        """;

    private const string EntryColumns = """
        h.id, h.migration, h.sha256, h.kind, h.run_id, h.applied_by, h.client, h.started_at, h.finished_at, h.outcome, h.detail, h.verdict_ok,
        (SELECT count(*)::int FROM chatops.statement_journal j WHERE j.migration = h.migration AND j.completed_at IS NOT NULL)
        """;

    private readonly NpgsqlConnection _connection;

    private TargetHistory(NpgsqlConnection connection) => _connection = connection;

    /// <summary>Opens the history's own session on the target (<c>chatops:&lt;run id&gt;:history</c>).</summary>
    public static async Task<TargetHistory> OpenAsync(string connectionString, string runId, CancellationToken cancellationToken) =>
        new(await TargetSession.OpenAsync(connectionString, $"chatops:{runId}:history", cancellationToken));

    /// <summary>"host pid N": where this process runs, recorded with each entry.</summary>
    public static string ThisClient => $"{Environment.MachineName} pid {Environment.ProcessId}";

    /// <summary>Creates the <c>chatops</c> schema and its tables when missing (idempotent; nothing is sent when they exist —
    /// <c>CREATE SCHEMA IF NOT EXISTS</c> needs the database's CREATE right even then).</summary>
    /// <exception cref="MigrationHistoryUnavailableException">The role may not create them: the message says who can.</exception>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        if (await ExistsAsync(cancellationToken))
            return;
        try
        {
            // One command per statement: the process turns Npgsql's SQL rewriting off, so a command holds a single statement.
            await using var batch = new NpgsqlBatch(_connection);
            // A schema made for us by its owner (CREATE SCHEMA chatops AUTHORIZATION …) is used as it is: only its tables are created.
            await using var schema = Command("SELECT to_regnamespace('chatops') IS NOT NULL");
            var schemaExists = (bool)(await schema.ExecuteScalarAsync(cancellationToken))!;
            foreach (var statement in CreateSql.Split(";\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                         .Where(s => !(schemaExists && s.StartsWith("CREATE SCHEMA", StringComparison.Ordinal))))
                batch.BatchCommands.Add(new NpgsqlBatchCommand(statement.TrimEnd(';')));
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new MigrationHistoryUnavailableException(
                $"cannot keep the migration history in the target ({ex.MessageText}): have a superuser or the database's owner run " +
                $"CREATE SCHEMA chatops AUTHORIZATION {_connection.UserName}; (or GRANT CREATE ON DATABASE {_connection.Database} TO {_connection.UserName};)", ex);
        }
    }

    /// <summary>The migration's latest entry, or null when it never ran here (or the history does not exist yet).</summary>
    public async Task<HistoryEntry?> LastAsync(string migration, CancellationToken cancellationToken)
    {
        if (!await ExistsAsync(cancellationToken))
            return null;
        var entries = await ReadAsync($"SELECT {EntryColumns} FROM chatops.migration_history h WHERE h.migration = $1 ORDER BY h.id DESC LIMIT 1",
            cancellationToken, migration);
        return entries.FirstOrDefault();
    }

    /// <summary>Every migration's latest entry, by migration id.</summary>
    public async Task<IReadOnlyDictionary<string, HistoryEntry>> LatestAsync(CancellationToken cancellationToken)
    {
        if (!await ExistsAsync(cancellationToken))
            return new Dictionary<string, HistoryEntry>();
        var entries = await ReadAsync($"""
            SELECT {EntryColumns} FROM chatops.migration_history h
            WHERE h.id = (SELECT max(id) FROM chatops.migration_history x WHERE x.migration = h.migration)
            """, cancellationToken);
        return entries.ToDictionary(e => e.Migration);
    }

    /// <summary>Every entry of one migration, most recent first.</summary>
    public async Task<IReadOnlyList<HistoryEntry>> EntriesAsync(string migration, CancellationToken cancellationToken) =>
        await ExistsAsync(cancellationToken)
            ? await ReadAsync($"SELECT {EntryColumns} FROM chatops.migration_history h WHERE h.migration = $1 ORDER BY h.id DESC", cancellationToken, migration)
            : [];

    /// <summary>Records a run or rollback as started; returns its id for <see cref="FinishAsync"/>.</summary>
    public async Task<long> BeginAsync(string migration, string sha256, HistoryKind kind, string runId, string appliedBy, CancellationToken cancellationToken)
    {
        // An entry still "running" belongs to a process that died: we hold the run lock, so no run is alive.
        await ExecAsync("UPDATE chatops.migration_history SET outcome = 'interrupted', finished_at = now(), detail = coalesce(detail, 'its process ended without recording an outcome') " +
                        "WHERE migration = $1 AND outcome = 'running'", cancellationToken, migration);
        await using var command = Command("""
            INSERT INTO chatops.migration_history (migration, sha256, kind, run_id, applied_by, client, outcome)
            VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id
            """, migration, sha256, kind == HistoryKind.Run ? "run" : "rollback", runId, appliedBy, ThisClient);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <param name="verdictOk">Whether the runbook's verdict was success (null for a rollback, or when no verdict was reached).</param>
    public async Task FinishAsync(long id, HistoryOutcome outcome, string? detail, CancellationToken cancellationToken, bool? verdictOk = null) =>
        await ExecAsync("UPDATE chatops.migration_history SET outcome = $2, finished_at = now(), detail = $3, verdict_ok = $4 WHERE id = $1",
            cancellationToken, id, outcome.ToString().ToLowerInvariant(), (object?)detail ?? DBNull.Value,
            verdictOk is { } ok ? ok : new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Boolean });

    /// <summary>Forgets the statements an earlier run completed: the next run starts from the first statement.</summary>
    public async Task DiscardJournalAsync(string migration, CancellationToken cancellationToken) =>
        await ExecAsync("DELETE FROM chatops.statement_journal WHERE migration = $1", cancellationToken, migration);

    /// <summary>
    /// Drops the tables that keep the rows at baseline (<c>chatops.rows_at_baseline_&lt;history id&gt;</c>) of every earlier run
    /// of <paramref name="migration"/>: a run that measures a new baseline makes them useless, and a run that stopped part-way
    /// leaves its own for a resumed run to compare against.
    /// </summary>
    public async Task DropRowsAtBaselineAsync(string migration, CancellationToken cancellationToken)
    {
        if (!await ExistsAsync(cancellationToken))
            return;
        var tables = new List<string>();
        await using (var command = Command("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM chatops.migration_history h
            JOIN pg_class c ON c.relname = 'rows_at_baseline_' || h.id
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'chatops'
            WHERE h.migration = $1
            """, migration))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                tables.Add(reader.GetString(0));
        foreach (var table in tables)
            await ExecAsync($"DROP TABLE IF EXISTS {table}", cancellationToken);
    }

    /// <summary>Drops one run's table of rows at baseline (its verdict is reached: nothing will compare against them again).</summary>
    public async Task DropTableAsync(string table, CancellationToken cancellationToken)
    {
        // The name comes from a checkpoint (stored JSON): it must be one of ours.
        if (!Probes.QueryProbes.IsRowsAtBaselineTable(table))
            throw new ArgumentException($"{table} is not a table of rows at baseline", nameof(table));
        await ExecAsync($"DROP TABLE IF EXISTS {table}", cancellationToken);
    }

    /// <summary>
    /// The statement journal of <paramref name="migration"/>, kept in the target. A statement counts as completed only when
    /// its text is the same as in <paramref name="script"/> (each row keeps its statement's SHA-256).
    /// </summary>
    public IExecutionJournal Journal(string migration, string sha256, SqlScript script, string runId) => new Statements(this, migration, sha256, script, runId);

    /// <summary>True when every statement the journal records as completed reads the same in <paramref name="script"/>.</summary>
    public async Task<bool> CompletedUnchangedAsync(string migration, SqlScript script, CancellationToken cancellationToken)
    {
        if (!await ExistsAsync(cancellationToken))
            return true;
        await using var command = Command("SELECT statement, statement_sha256 FROM chatops.statement_journal WHERE migration = $1 AND completed_at IS NOT NULL", migration);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var n = reader.GetInt32(0);
            if (n > script.Statements.Count || StatementSha256(script.Statements[n - 1]) != reader.GetString(1))
                return false;
        }
        return true;   // nothing completed, or all of it reads the same: nothing of two versions to mix
    }

    /// <summary>A statement's identity in the journal: the SHA-256 of its text.</summary>
    public static string StatementSha256(SqlStatement statement) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(statement.Text)));

    /// <summary>True when the history tables exist on the target.</summary>
    public async Task<bool> ExistsAsync(CancellationToken cancellationToken)
    {
        await using var command = Command("SELECT to_regclass('chatops.migration_history') IS NOT NULL AND to_regclass('chatops.statement_journal') IS NOT NULL");
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async Task<List<HistoryEntry>> ReadAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<HistoryEntry>();
        while (await reader.ReadAsync(cancellationToken))
            entries.Add(new HistoryEntry(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.GetString(3) == "run" ? HistoryKind.Run : HistoryKind.Rollback,
                reader.GetString(4), reader.GetString(5), reader.GetString(6),
                reader.GetFieldValue<DateTimeOffset>(7), reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                Enum.Parse<HistoryOutcome>(reader.GetString(9), ignoreCase: true),
                reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.GetInt32(12),
                reader.IsDBNull(11) ? null : reader.GetBoolean(11)));
        return entries;
    }

    private NpgsqlCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlCommand(sql, _connection);
        foreach (var p in parameters)
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p });
        return command;
    }

    private async Task ExecAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The executor's journal, one row per statement, written through the history's session as each unit starts and completes.</summary>
    private sealed class Statements(TargetHistory history, string migration, string sha256, SqlScript script, string runId) : IExecutionJournal
    {
        private string Hash(int statement) => statement <= script.Statements.Count ? StatementSha256(script.Statements[statement - 1]) : "";

        public async Task<IReadOnlyDictionary<int, JournalEntry>> CompletedAsync(CancellationToken cancellationToken)
        {
            await using var command = history.Command("""
                SELECT statement, line, completed_at, postcondition, verdict, statement_sha256 FROM chatops.statement_journal
                WHERE migration = $1 AND completed_at IS NOT NULL
                """, migration);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var completed = new Dictionary<int, JournalEntry>();
            while (await reader.ReadAsync(cancellationToken))
                if (reader.GetString(5) == Hash(reader.GetInt32(0)))
                    completed[reader.GetInt32(0)] = new JournalEntry(reader.GetInt32(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? PostconditionVerdict.Unknown : Enum.Parse<PostconditionVerdict>(reader.GetString(4)));
            return completed;
        }

        public async Task<IReadOnlyList<int>> InterruptedAsync(CancellationToken cancellationToken)
        {
            await using var command = history.Command(
                "SELECT statement, statement_sha256 FROM chatops.statement_journal WHERE migration = $1 AND completed_at IS NULL ORDER BY statement",
                migration);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var started = new List<int>();
            while (await reader.ReadAsync(cancellationToken))
                if (reader.GetString(1) == Hash(reader.GetInt32(0)))
                    started.Add(reader.GetInt32(0));
            return started;
        }

        public async Task StartedAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
        {
            await using var command = history.Command("""
                INSERT INTO chatops.statement_journal (migration, sha256, statement, line, run_id, statement_sha256)
                SELECT $1, $2, s.n, s.line, $5, s.hash FROM unnest($3::int[], $4::int[], $6::text[]) AS s(n, line, hash)
                ON CONFLICT (migration, statement) DO UPDATE SET sha256 = excluded.sha256, line = excluded.line, run_id = excluded.run_id,
                    statement_sha256 = excluded.statement_sha256, started_at = now(), completed_at = NULL, postcondition = NULL, verdict = NULL
                """, migration, sha256, statements.Select(s => s.Number).ToArray(), statements.Select(s => s.Line).ToArray(), runId,
                statements.Select(StatementSha256).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        public async Task CompletedAsync(JournalEntry entry, CancellationToken cancellationToken)
        {
            await using var command = history.Command("""
                INSERT INTO chatops.statement_journal (migration, sha256, statement, line, run_id, statement_sha256, completed_at, postcondition, verdict)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (migration, statement) DO UPDATE SET sha256 = excluded.sha256, completed_at = excluded.completed_at,
                    postcondition = excluded.postcondition, verdict = excluded.verdict, run_id = excluded.run_id, statement_sha256 = excluded.statement_sha256
                """, migration, sha256, entry.Statement, entry.Line, runId, Hash(entry.Statement), entry.At, (object?)entry.Postcondition ?? DBNull.Value, entry.Verdict.ToString());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

/// <summary>The target's <c>chatops</c> schema is missing and the role may not create it; the message says who can.</summary>
public sealed class MigrationHistoryUnavailableException(string message, Exception inner) : Exception(message, inner);
