using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>Migration → rollback → migration again: the schema goes back, then converges to the same end state.</summary>
public class SeedRollbackTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    // What the migration decides about the schema, read from the catalog.
    private const string SchemaSnapshot = """
        SELECT concat_ws(E'\n',
          (SELECT string_agg(format('%s %s %s %s', column_name, data_type, is_nullable, coalesce(column_default, '-')), '; ' ORDER BY column_name)
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'contacts'),
          (SELECT string_agg(pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END, '; ' ORDER BY c.relname)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.contacts'::regclass),
          (SELECT string_agg(format('%s %s %s %s', policyname, permissive, cmd, qual), '; ' ORDER BY policyname)
             FROM pg_policies WHERE tablename = 'contacts'),
          (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)
             FROM pg_constraint WHERE conrelid = 'public.contacts'::regclass),
          (SELECT coalesce(string_agg(pg_get_functiondef(oid), '; '), 'no function')
             FROM pg_proc WHERE proname = 'user_has_contact_access_optimized'))
        """;

    [Fact]
    public async Task Rollback_restores_the_schema_and_a_second_run_converges_to_the_same_state()
    {
        await db.RunScriptAsync(SeedMigration.Sql);
        var migrated = await db.ScalarAsync<string>(SchemaSnapshot);

        await db.RunScriptAsync(SeedMigration.Rollback);

        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_policies WHERE policyname = 'Analytics access optimized'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = ANY($1)", (object)SeedMigration.IndexNames));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_proc WHERE proname = 'user_has_contact_access_optimized'"));
        // Columns and their data are kept, nullable and without default (step 5 is commented out).
        Assert.Equal("analytics_enabled YES -;last_analytics_update YES -", await db.ScalarAsync<string>(
            "SELECT string_agg(format('%s %s %s', column_name, is_nullable, coalesce(column_default, '-')), ';' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE analytics_enabled IS NULL"));

        // The application goes on writing while the columns are nullable without default.
        await db.ExecuteAsync("INSERT INTO public.contacts (organization_id, name, email) SELECT id, 'After rollback', 'after@example.test' FROM public.organizations LIMIT 5");
        Assert.Equal(5L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE analytics_enabled IS NULL AND last_analytics_update IS NULL"));

        await db.RunScriptAsync(SeedMigration.Sql);

        Assert.Equal(migrated, await db.ScalarAsync<string>(SchemaSnapshot));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE analytics_enabled IS NULL OR last_analytics_update IS NULL"));
        Assert.Equal(5L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE name = 'After rollback' AND NOT analytics_enabled"));
    }
}

/// <summary>
/// The re-run after a rollback keeps the application writing: rows written while the columns were nullable are
/// back-filled before any NOT VALID check exists, so no application UPDATE of them fails — checked at every statement
/// boundary of the re-run, and by an updater hammering those rows throughout.
/// </summary>
public class SeedRerunUnderWritesTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private const string UpdateNullRows = "UPDATE public.contacts SET name = name WHERE name = 'After rollback'";

    [Fact]
    public async Task Application_updates_of_rows_written_after_the_rollback_never_fail_during_the_re_run()
    {
        await db.RunScriptAsync(SeedMigration.Sql);
        await db.RunScriptAsync(SeedMigration.Rollback);
        await db.ExecuteAsync("INSERT INTO public.contacts (organization_id, name, email) SELECT id, 'After rollback', 'after@example.test' FROM public.organizations LIMIT 20");
        Assert.Equal(20L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE analytics_enabled IS NULL"));

        var boundaryFailures = new List<string>();
        var harness = new ExecutorHarness(db.ConnectionString);
        harness.OnEvent = e =>
        {
            if (e is not ChatOps.Core.Execution.StatementFinished f)
                return;
            try
            {
                db.ExecuteAsync(UpdateNullRows).GetAwaiter().GetResult();
            }
            catch (Npgsql.PostgresException ex)
            {
                boundaryFailures.Add($"after #{f.Statement.Number} ({f.Statement.Summary(50)}): {ex.MessageText}");
            }
        };

        using var stop = new CancellationTokenSource();
        var updater = Task.Run(async () =>
        {
            var (updates, failures) = (0, new List<string>());
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await db.ExecuteAsync(UpdateNullRows);
                    updates++;
                }
                catch (Npgsql.PostgresException ex) when (ex.SqlState != Npgsql.PostgresErrorCodes.QueryCanceled)
                {
                    failures.Add(ex.MessageText);
                }
            }
            return (updates, failures);
        });

        var result = await harness.RunAsync(SeedMigration.Sql);
        await stop.CancelAsync();
        var (updated, failed) = await updater;

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Empty(boundaryFailures);
        Assert.Empty(failed);
        Assert.True(updated > 0);
        Assert.Contains(harness.EventsOf<ChatOps.Core.Execution.NoticeReceived>(), n => n.Message.StartsWith("Re-run: back-filled 20 row(s)", StringComparison.Ordinal));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE analytics_enabled IS NULL OR last_analytics_update IS NULL"));
        Assert.Equal("NO NO", await db.ScalarAsync<string>(
            "SELECT string_agg(is_nullable, ' ' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
    }
}

/// <summary>The seed's rollback runs on any state the migration can leave: never applied, stopped after its first statement, rolled back already.</summary>
public class SeedRollbackIdempotenceTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task The_rollback_runs_where_the_migration_never_ran_and_twice_in_a_row()
    {
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'analytics_enabled'"));
        var never = await new ExecutorHarness(db.ConnectionString).RunAsync(SeedMigration.Rollback);
        Assert.True(never.Succeeded, never.Failure?.Message);

        await db.RunScriptAsync(SeedMigration.Sql);
        foreach (var _ in Enumerable.Range(0, 2))
        {
            var again = await new ExecutorHarness(db.ConnectionString).RunAsync(SeedMigration.Rollback);
            Assert.True(again.Succeeded, again.Failure?.Message);
        }
        Assert.Equal("YES YES", await db.ScalarAsync<string>(
            "SELECT string_agg(is_nullable, ' ' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
    }
}
