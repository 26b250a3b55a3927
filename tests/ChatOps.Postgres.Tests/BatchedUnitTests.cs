using ChatOps.Core.Execution;
using ChatOps.Core.Scripts;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>Units sent as one batch: what the server granted is reported, a block's isolation is left alone, errors land on their statement.</summary>
public class BatchedUnitTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task The_exclusive_locks_the_server_granted_are_reported_and_a_table_the_unit_creates_is_not_one()
    {
        await db.ExecuteAsync("CREATE TABLE measured (id int PRIMARY KEY)");
        await db.ExecuteAsync("INSERT INTO measured SELECT generate_series(1, 100)");
        await db.ExecuteAsync("CREATE TABLE doomed (id int)");
        var harness = new ExecutorHarness(db.ConnectionString);

        var result = await harness.RunAsync("""
            ALTER TABLE measured ADD COLUMN note text;
            CREATE TABLE archive AS SELECT id FROM measured;
            DROP TABLE doomed;
            BEGIN;
            CREATE TABLE fresh (id int PRIMARY KEY);
            INSERT INTO fresh SELECT id FROM measured;
            COMMIT;
            """);

        Assert.True(result.Succeeded, result.Failure?.Message);
        var finished = harness.EventsOf<StatementFinished>().ToDictionary(f => f.Statement.Number);
        Assert.Equal(["measured"], finished[1].ExclusiveLocks);
        Assert.True(finished[1].LockHeld > TimeSpan.Zero);
        Assert.Empty(finished[2].ExclusiveLocks!);          // created by the unit: nobody else can be waiting for it
        Assert.Single(finished[3].ExclusiveLocks!);         // dropped: shown by its OID, still a hold on whoever used it
        Assert.Empty(finished[7].ExclusiveLocks!);
        Assert.Equal(100, finished[6].Rows);
        Assert.Equal(100L, await db.ScalarAsync<long>("SELECT count(*) FROM fresh"));
    }

    [Fact]
    public async Task A_block_that_sets_its_isolation_runs_as_written_and_an_error_lands_on_its_statement()
    {
        await db.ExecuteAsync("CREATE TABLE iso (id int)");
        var serializable = new ExecutorHarness(db.ConnectionString);
        var ok = await serializable.RunAsync("""
            BEGIN ISOLATION LEVEL SERIALIZABLE;
            ALTER TABLE iso ADD COLUMN a int;
            COMMIT;
            BEGIN;
            SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
            ALTER TABLE iso ADD COLUMN b int;
            COMMIT;
            """);
        Assert.True(ok.Succeeded, ok.Failure?.Message);

        var failing = new ExecutorHarness(db.ConnectionString);
        var failed = await failing.RunAsync("""
            BEGIN;
            ALTER TABLE iso ADD COLUMN c int;
            ALTER TABLE iso ADD COLUMN a int;
            COMMIT;
            """);
        Assert.False(failed.Succeeded);
        Assert.Equal(3, failed.Failure!.Statement.Number);   // the duplicate column, not the block's first statement
        Assert.Equal("42701", failed.Failure.SqlState);
        // The block rolled back as a whole.
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'iso' AND column_name = 'c'"));
    }
}
