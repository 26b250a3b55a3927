using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A DO block that EXECUTEs SQL built at run time, or a SELECT calling a user function: the analyzer cannot read its lock,
/// so it claims ACCESS EXCLUSIVE on every relation the block (or, with the catalog, the function's body) names. On the
/// server, that claim must cover every table lock the statement really takes.
/// </summary>
public class DynamicSqlFailSafeTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Theory]
    [InlineData("DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN c int', 'dyn_t'); END $$", true)]
    [InlineData("DO $$ DECLARE target text := 'dyn_t'; BEGIN EXECUTE 'LOCK TABLE ' || quote_ident(target) || ' IN SHARE MODE'; END $$", true)]
    [InlineData("DO $$ BEGIN EXECUTE 'ALTER TABLE dyn_t ADD COLUMN c int'; END $$", false)]
    // A function ChatOps cannot see into from the SELECT: with the catalog, the relations its body names.
    [InlineData("SELECT dyn_backfill()", true)]
    [InlineData("SELECT * FROM public.dyn_backfill()", true)]
    public async Task The_fail_safe_claim_covers_what_the_server_takes(string sql, bool unknown)
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS dyn_t (id int PRIMARY KEY, a int)");
        await db.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION dyn_backfill() RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE dyn_t SET a = id WHERE a IS NULL;
                LOCK TABLE dyn_t IN SHARE MODE;
            END $$
            """);
        await using var connection = await db.OpenAsync();
        var analysis = StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql), await CatalogFactsReader.ReadAsync(connection, CancellationToken.None)).Single();
        Assert.Equal(unknown, analysis.LockUnknown);

        await using var tx = await connection.BeginTransactionAsync();
        await using (var run = new NpgsqlCommand(sql, connection, tx))
            await run.ExecuteNonQueryAsync();
        var held = new List<(string Relation, LockMode Mode)>();
        await using (var locks = new NpgsqlCommand("""
            SELECT c.relname::text, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
            """, connection, tx))
        await using (var reader = await locks.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                held.Add((reader.GetString(0), Enum.Parse<LockMode>(reader.GetString(1)[..^4])));
        await tx.RollbackAsync();

        Assert.NotEmpty(held);
        foreach (var (relation, mode) in held)
        {
            var claimed = analysis.Locks.Where(l => l.Table.Name == relation).Select(l => l.Mode).DefaultIfEmpty(LockMode.None).Max();
            Assert.True(claimed >= mode, $"server {mode} on {relation}, analyzer claims {claimed}");
            if (!unknown)
                Assert.Equal(mode, claimed);   // read from the text: exact
        }
    }
}
