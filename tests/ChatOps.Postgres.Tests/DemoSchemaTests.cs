using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

public class DemoSchemaTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task The_generator_fills_organisations_members_and_contacts_and_rls_applies_to_app_user()
    {
        await DemoDatabase.CreateAsync(db.ConnectionString, 2_000, CancellationToken.None);

        Assert.Equal(2_000L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts"));
        Assert.Equal(10L, await db.ScalarAsync<long>("SELECT count(*) FROM public.organizations"));
        Assert.Equal(30L, await db.ScalarAsync<long>("SELECT count(*) FROM public.organization_members"));
        Assert.Equal(0L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM public.contacts c LEFT JOIN public.organizations o ON o.id = c.organization_id WHERE o.id IS NULL"));
        Assert.True(await db.ScalarAsync<bool>("SELECT relrowsecurity FROM pg_class WHERE oid = 'public.contacts'::regclass"));
        Assert.False(await db.ScalarAsync<bool>("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'app_user'"));

        // As app_user, a member sees exactly their organisation's contacts, and nobody sees anything unset.
        await using var connection = await db.OpenAsync("test");
        var member = await db.ScalarAsync<Guid>("SELECT user_id FROM public.organization_members LIMIT 1");
        var expected = await db.ScalarAsync<long>(
            "SELECT count(*) FROM public.contacts c JOIN public.organization_members m ON m.organization_id = c.organization_id WHERE m.user_id = $1", member);
        await Exec(connection, "SET ROLE app_user");
        Assert.Equal(0L, await Scalar(connection, "SELECT count(*) FROM public.contacts"));
        await Exec(connection, $"SET app.user_id = '{member}'");
        Assert.Equal(expected, await Scalar(connection, "SELECT count(*) FROM public.contacts"));
        Assert.Equal(200L, expected);
    }

    private static async Task Exec(Npgsql.NpgsqlConnection c, string sql)
    {
        await using var cmd = new Npgsql.NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<long> Scalar(Npgsql.NpgsqlConnection c, string sql)
    {
        await using var cmd = new Npgsql.NpgsqlCommand(sql, c);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
