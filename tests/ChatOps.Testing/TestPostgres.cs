using System.Diagnostics;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using Npgsql;
using Xunit;

namespace ChatOps.Testing;

/// <summary>
/// One real PostgreSQL per test process (test assemblies run in parallel processes, each with its own
/// cluster), and a template database holding the demo schema and data, copied for every test class.
/// <c>CHATOPS_TEST_POSTGRES</c> points the tests at an existing server instead.
/// </summary>
public static class TestPostgres
{
    /// <summary>Contacts in the template database.</summary>
    public const int TemplateContacts = 50_000;

    private static readonly Lazy<Task<ThrowawayPostgres>> LazyServer = new(StartServerAsync);
    private static readonly Lazy<Task<string>> LazyTemplate = new(CreateTemplateAsync);

    /// <summary>Superuser connection string to the server's <c>postgres</c> database.</summary>
    public static async Task<string> ServerConnectionStringAsync() => (await LazyServer.Value).ConnectionString;

    /// <summary>How long the last copy of the template took (the cost of a fresh test database).</summary>
    public static TimeSpan LastCopyDuration { get; private set; }

    /// <summary>A new database: a copy of the demo template, or empty.</summary>
    public static async Task<string> CreateDatabaseAsync(bool withDemoData, CancellationToken cancellationToken = default)
    {
        var server = await ServerConnectionStringAsync();
        var name = $"chatops_test_{Guid.NewGuid():N}"[..30];
        var started = Stopwatch.GetTimestamp();
        await DatabaseAdmin.CreateAsync(server, name, withDemoData ? await LazyTemplate.Value : null, cancellationToken);
        if (withDemoData)
            LastCopyDuration = Stopwatch.GetElapsedTime(started);
        return name;
    }

    public static async Task DropDatabaseAsync(string name) =>
        await DatabaseAdmin.DropAsync(await ServerConnectionStringAsync(), name, CancellationToken.None);

    private static async Task<ThrowawayPostgres> StartServerAsync()
    {
        var server = await new PostgresLauncher().StartAsync(Environment.GetEnvironmentVariable(PostgresLauncher.TestConnectionVariable), CancellationToken.None);
        // xunit has no assembly-level teardown; stop the cluster when the test process ends. A killed
        // process leaves it behind, and the next launch removes it (its owner is gone).
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    }

    private static async Task<string> CreateTemplateAsync()
    {
        var server = await ServerConnectionStringAsync();
        var name = $"chatops_template_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];
        await DatabaseAdmin.CreateAsync(server, name, template: null, CancellationToken.None);
        var cs = new NpgsqlConnectionStringBuilder(ConnectionStrings.WithDatabase(server, name)) { Pooling = false }.ConnectionString;
        await DemoDatabase.CreateAsync(cs, TemplateContacts, CancellationToken.None);
        await ChatOps.Postgres.Monitoring.MonitoringFunctions.InstallAsync(cs, CancellationToken.None);
        // CREATE DATABASE … TEMPLATE refuses while the template has sessions: none may stay pooled.
        NpgsqlConnection.ClearAllPools();
        return name;
    }
}

/// <summary>
/// A fresh database for one test class, copied from the demo template (schema, 50,000 contacts,
/// monitoring functions). Use as <c>IClassFixture&lt;PostgresDatabase&gt;</c>.
/// </summary>
public class PostgresDatabase : IAsyncLifetime
{
    public string Name { get; private set; } = "";

    /// <summary>Superuser connection string to this database.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Superuser connection string to the server's <c>postgres</c> database.</summary>
    public string ServerConnectionString { get; private set; } = "";

    protected virtual bool WithDemoData => true;

    public virtual async Task InitializeAsync()
    {
        ServerConnectionString = await TestPostgres.ServerConnectionStringAsync();
        Name = await TestPostgres.CreateDatabaseAsync(WithDemoData);
        ConnectionString = ConnectionStrings.WithDatabase(ServerConnectionString, Name);
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await TestPostgres.DropDatabaseAsync(Name);
    }

    /// <summary>Opens a connection to this database.</summary>
    public async Task<NpgsqlConnection> OpenAsync(string? applicationName = null)
    {
        var cs = applicationName is null ? ConnectionString : ConnectionStrings.WithApplicationName(ConnectionString, applicationName);
        var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>.</summary>
    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = await OpenAsync("test");
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Runs <paramref name="sql"/> (one statement).</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAsync("test");
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs a whole script, statement by statement.</summary>
    public Task RunScriptAsync(string script) => DatabaseAdmin.RunScriptAsync(ConnectionString, script, CancellationToken.None);
}

/// <summary>A fresh, empty database for one test class.</summary>
public sealed class EmptyPostgresDatabase : PostgresDatabase
{
    protected override bool WithDemoData => false;
}
