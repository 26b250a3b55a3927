using System.Buffers;
using System.Security.Cryptography;
using System.Text.Unicode;
using ChatOps.Core.Migrations;
using ChatOps.Core.Scripts;

namespace ChatOps.Postgres.Migrations;

/// <summary>A migration's files: <c>&lt;id&gt;.sql</c>, and where present <c>&lt;id&gt;.rollback.sql</c> and <c>&lt;id&gt;.runbook.json</c>.</summary>
public sealed record MigrationFiles(string Id, string SqlPath, string? RollbackPath, string? RunbookPath);

/// <summary>The exact bytes of a script, as text, with their SHA-256 (what sign-offs are pinned to).</summary>
public sealed record ScriptText(string Path, string Text, string Sha256);

/// <summary>Thrown for a refused or unknown migration name; the message lists the available migrations.</summary>
public sealed class MigrationNotFoundException(string message) : Exception(message);

/// <summary>Thrown for a migration that cannot be run as it is (no statements, a bad runbook file); the message says why.</summary>
public sealed class MigrationRefusedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The migrations in one folder.</summary>
public sealed class MigrationCatalog(string directory)
{
    public string Directory { get; } = directory;

    public IReadOnlyList<MigrationFiles> List()
    {
        if (!System.IO.Directory.Exists(Directory))
            return [];
        return System.IO.Directory.GetFiles(Directory, "*.sql")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(f => !f.EndsWith(".rollback.sql", StringComparison.OrdinalIgnoreCase))
            .Select(f => Files(f[..^4]))
            .OrderBy(m => m.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The files of <paramref name="name"/>; refuses unsafe names before touching the disk.</summary>
    public MigrationFiles Find(string name)
    {
        if (!MigrationName.TryNormalize(name, out var id, out var error))
            throw new MigrationNotFoundException(error);
        var files = Files(id);
        if (!File.Exists(files.SqlPath))
        {
            var available = List().Select(m => m.Id).ToList();
            throw new MigrationNotFoundException(available.Count == 0
                ? $"no migration '{id}': {Directory} holds no migrations"
                : $"no migration '{id}' in {Directory}; available: {string.Join(", ", available)}");
        }
        return files;
    }

    /// <summary>
    /// Reads a script exactly as stored and hashes its bytes. Refuses a file that is not UTF-8 (naming the byte and the
    /// line: a replacement character would change what runs) and a script that cannot be split into statements (an
    /// unterminated quote, dollar quote or comment, or a transaction block never closed, with the file and line) —
    /// before any statement of it can run.
    /// </summary>
    /// <exception cref="MigrationRefusedException">The file is not valid UTF-8.</exception>
    /// <exception cref="SqlLexer.SqlSyntaxException">The script cannot be split; <see cref="SqlLexer.SqlSyntaxException.File"/> names it.</exception>
    public static async Task<ScriptText> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        var text = Decode(bytes, path);
        if (text.Length > 0 && text[0] == '\uFEFF')
            text = text[1..];
        try
        {
            _ = SqlScript.Parse(text);
        }
        catch (SqlLexer.SqlSyntaxException ex)
        {
            throw new SqlLexer.SqlSyntaxException(ex.Reason, ex.Line, path);
        }
        return new ScriptText(path, text, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    private static string Decode(byte[] bytes, string path)
    {
        var chars = new char[bytes.Length];
        if (Utf8.ToUtf16(bytes, chars, out var read, out var written, replaceInvalidSequences: false) == OperationStatus.Done)
            return new string(chars, 0, written);
        // `read` stops at the first byte that starts no valid sequence.
        var line = 1 + bytes.AsSpan(0, read).Count((byte)'\n');
        var column = read - (bytes.AsSpan(0, read).LastIndexOf((byte)'\n') + 1) + 1;
        throw new MigrationRefusedException(
            $"{path} is not valid UTF-8: byte 0x{bytes[read]:X2} at offset {read} (line {line}, byte {column} of the line) starts no UTF-8 " +
            "character. Save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8); nothing was run.");
    }

    private MigrationFiles Files(string id)
    {
        var sql = Path.Combine(Directory, id + ".sql");
        var rollback = Path.Combine(Directory, id + ".rollback.sql");
        var runbook = Path.Combine(Directory, id + ".runbook.json");
        return new MigrationFiles(id, sql, File.Exists(rollback) ? rollback : null, File.Exists(runbook) ? runbook : null);
    }
}
