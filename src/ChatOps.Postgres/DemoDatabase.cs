using Npgsql;

namespace ChatOps.Postgres;

/// <summary>The demo application schema (<c>sql/demo/schema.sql</c>) and its data generator.</summary>
public static class DemoDatabase
{
    /// <summary>Organisations for a number of contacts: about 500 contacts each, at least 10.</summary>
    public static int OrganizationsFor(int contacts) => Math.Max(10, contacts / 500);

    /// <summary>Installs the schema and fills it with <paramref name="contacts"/> contacts.</summary>
    public static async Task CreateAsync(string connectionString, int contacts, CancellationToken cancellationToken)
    {
        await DatabaseAdmin.RunScriptAsync(connectionString, await ProductFiles.ReadSqlAsync("demo/schema.sql", cancellationToken), cancellationToken);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT * FROM public.generate_demo_data($1, $2)", connection) { CommandTimeout = 0 };
        command.Parameters.Add(new NpgsqlParameter { Value = contacts });
        command.Parameters.Add(new NpgsqlParameter { Value = OrganizationsFor(contacts) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) { }
    }
}
