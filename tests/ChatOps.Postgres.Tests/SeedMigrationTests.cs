using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Probes;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>The customer's migration on 50,000 demo contacts: every checklist validation, and the policy's promises.</summary>
public class SeedMigrationTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>
{
    [Fact]
    public async Task Every_checklist_validation_holds()
    {
        var runbook = MigrationRunbook.Parse(File.ReadAllText(SeedMigration.RunbookPath), SeedMigration.RunbookPath);
        var results = await ValidationProbe.RunAsync(db.ConnectionString, runbook.Validations, CancellationToken.None);

        Assert.Equal(runbook.Validations.Count, results.Count);
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Name}: {r.Detail}"));
    }

    [Fact]
    public async Task Columns_are_not_null_with_defaults_indexes_valid_policy_present_and_no_row_lost()
    {
        Assert.Equal("NO,NO", await db.ScalarAsync<string>(
            "SELECT string_agg(is_nullable, ',') FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
        Assert.Equal("false|now()", await db.ScalarAsync<string>(
            "SELECT string_agg(column_default, '|' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
        Assert.Equal(string.Join(",", SeedMigration.IndexNames), await db.ScalarAsync<string>(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.contacts'::regclass AND i.indisvalid AND c.relname LIKE '%analytics%'"));
        Assert.Equal("SELECT", await db.ScalarAsync<string>(
            "SELECT cmd FROM pg_policies WHERE tablename = 'contacts' AND policyname = 'Analytics access optimized'"));
        Assert.Equal(db.RowsBefore, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts"));
        Assert.Equal(db.RowsBefore, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE NOT analytics_enabled AND last_analytics_update IS NOT NULL"));
        // The access function keeps the exact signature the rollback drops it by, and is hardened.
        Assert.True(await db.ScalarAsync<bool>(
            "SELECT prosecdef AND provolatile = 's' AND proconfig::text LIKE '%search_path%' FROM pg_proc WHERE oid = 'public.user_has_contact_access_optimized(uuid)'::regprocedure"));
    }

    [Fact]
    public async Task The_new_policy_grants_no_row_the_membership_policy_denies()
    {
        await using var connection = await db.OpenAsync("test");
        await using var tx = await connection.BeginTransactionAsync();
        // Opt every contact in, so the analytics policy has every row to (wrongly) admit.
        await Exec(connection, "UPDATE public.contacts SET analytics_enabled = true");

        var users = await Column<Guid>(connection, "SELECT user_id FROM public.organization_members ORDER BY user_id LIMIT 5");
        foreach (var user in users.Append(Guid.NewGuid()))   // and a user who belongs nowhere
        {
            await Exec(connection, $"SET LOCAL app.user_id = '{user}'");
            // Evaluated as the owner (RLS bypassed): rows the new policy admits that membership does not.
            var leaked = await Scalar(connection, """
                SELECT count(*) FROM public.contacts c
                WHERE c.analytics_enabled
                  AND c.organization_id IN (SELECT o.id FROM public.organizations o WHERE public.user_has_contact_access_optimized(o.id))
                  AND c.organization_id NOT IN (SELECT m.organization_id FROM public.organization_members m WHERE m.user_id = public.current_app_user_id())
                """);
            var admitted = await Scalar(connection, """
                SELECT count(*) FROM public.contacts c
                WHERE c.analytics_enabled
                  AND c.organization_id IN (SELECT o.id FROM public.organizations o WHERE public.user_has_contact_access_optimized(o.id))
                """);
            var members = await Scalar(connection,
                "SELECT count(*) FROM public.contacts c JOIN public.organization_members m ON m.organization_id = c.organization_id WHERE m.user_id = public.current_app_user_id()");

            await Exec(connection, "SET LOCAL ROLE app_user");
            var visible = await Scalar(connection, "SELECT count(*) FROM public.contacts");
            await Exec(connection, "RESET ROLE");

            Assert.Equal(0, leaked);
            Assert.Equal(members, admitted);     // the policy does admit the member's rows: the check is not vacuous
            Assert.Equal(members, visible);      // and app_user sees exactly the membership rows
        }
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task The_access_function_runs_once_per_organisation_not_once_per_contact()
    {
        await using var connection = await db.OpenAsync("test");
        await using var tx = await connection.BeginTransactionAsync();
        await Exec(connection, "UPDATE public.contacts SET analytics_enabled = true");
        var organizations = await Scalar(connection, "SELECT count(*) FROM public.organizations");
        var outsider = Guid.NewGuid();   // no membership: every row falls through to the analytics policy
        await Exec(connection, "SET LOCAL track_functions = 'all'");
        await Exec(connection, $"SET LOCAL app.user_id = '{outsider}'");
        await Exec(connection, "SET LOCAL ROLE app_user");

        Assert.Equal(0, await Scalar(connection, "SELECT count(*) FROM public.contacts"));
        var calls = await Scalar(connection,
            "SELECT coalesce(pg_stat_get_xact_function_calls('public.user_has_contact_access_optimized(uuid)'::regprocedure), 0)");

        Assert.InRange(calls, 1, organizations);
        Assert.True(db.RowsBefore > 100 * organizations);
        await tx.RollbackAsync();
    }

    private static async Task Exec(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<long> Scalar(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    private static async Task<List<T>> Column<T>(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        await using var reader = await cmd.ExecuteReaderAsync();
        var values = new List<T>();
        while (await reader.ReadAsync())
            values.Add(reader.GetFieldValue<T>(0));
        return values;
    }
}
