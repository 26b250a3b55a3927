using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A script that sets its own search_path is analysed with it: bare names resolve where the script's session will find
/// them, not where the catalog reader's session does. Two tables named <c>accounts</c> tell the difference: in <c>app</c>
/// its <c>name</c> is varchar(100), so varchar(200) only widens it; in <c>public</c> it is text, so varchar(200) rewrites.
/// </summary>
public class ScriptSearchPathTests(ScriptSearchPathTests.Database db) : IClassFixture<ScriptSearchPathTests.Database>
{
    public sealed class Database : PostgresDatabase
    {
        protected override bool WithDemoData => false;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await RunScriptAsync("""
                CREATE SCHEMA app;
                CREATE TABLE public.accounts (id int PRIMARY KEY, name text);
                CREATE TABLE app.accounts (id int PRIMARY KEY, name varchar(100), email text);
                CREATE INDEX accounts_email_idx ON app.accounts (email);
                INSERT INTO app.accounts SELECT g, 'n' || g, 'e' || g FROM generate_series(1, 100) g;
                INSERT INTO public.accounts SELECT g, 'n' || g FROM generate_series(1, 100) g;
                """);
        }
    }

    private static readonly DbObjectName AppAccounts = new("app", "accounts");

    private async Task<IReadOnlyList<StatementAnalysis>> PlanAsync(string sql)
    {
        // The reader's session has the target's default search_path ("$user", public).
        await using var connection = await db.OpenAsync();
        return StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql), await CatalogFactsReader.ReadAsync(connection, CancellationToken.None));
    }

    [Fact]
    public async Task Set_search_path_resolves_the_scripts_names_in_its_schema_and_the_server_agrees()
    {
        const string sql = "SET search_path = app, public; ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200)";
        var plan = await PlanAsync(sql);

        Assert.Equal([new TableLock(AppAccounts, LockMode.AccessExclusive)], plan[1].Locks);
        Assert.False(plan[1].Rewrites);

        // The server: ACCESS EXCLUSIVE on app.accounts, and its file unchanged (a widening, no rewrite).
        await using var connection = await db.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var fileBefore = await ScalarAsync<uint>(connection, "SELECT pg_relation_filenode('app.accounts')");
        foreach (var statement in SqlScript.Parse(sql).Statements)
            await ScalarAsync<object>(connection, statement.Text);
        Assert.True(await ScalarAsync<bool>(connection, """
            SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 'app.accounts'::regclass
                                                    AND mode = 'AccessExclusiveLock' AND granted)
            """));
        Assert.False(await ScalarAsync<bool>(connection, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 'public.accounts'::regclass)"));
        Assert.Equal(fileBefore, await ScalarAsync<uint>(connection, "SELECT pg_relation_filenode('app.accounts')"));
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task Without_a_set_the_targets_default_search_path_resolves_them()
    {
        var plan = await PlanAsync("ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200)");

        Assert.Equal([new TableLock(new(null, "accounts"), LockMode.AccessExclusive)], plan[0].Locks);
        Assert.True(plan[0].Rewrites);   // public.accounts.name is text
    }

    [Fact]
    public async Task Set_local_lasts_until_the_end_of_its_transaction_block()
    {
        var plan = await PlanAsync("""
            BEGIN;
            SET LOCAL search_path = app;
            DROP INDEX accounts_email_idx;
            COMMIT;
            ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200);
            """);

        Assert.Contains(new TableLock(AppAccounts, LockMode.AccessExclusive), plan[2].OwnLocks);
        Assert.Contains(new TableLock(new("app", "accounts_email_idx"), LockMode.AccessExclusive), plan[2].OwnLocks);
        Assert.True(plan[4].Rewrites);   // after COMMIT: public.accounts again
        Assert.Equal([new TableLock(new(null, "accounts"), LockMode.AccessExclusive)], plan[4].Locks);
    }

    [Fact]
    public async Task Set_config_sets_it_too()
    {
        var plan = await PlanAsync("SELECT set_config('search_path', 'app, public', false); ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200)");

        Assert.Equal([new TableLock(AppAccounts, LockMode.AccessExclusive)], plan[1].Locks);
        Assert.False(plan[1].Rewrites);
        Assert.False(plan[0].LockUnknown);   // set_config is a built-in
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
