using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit;

namespace ChatOps.Testing;

/// <summary>
/// A throwaway cluster of its own whose TCP logins need a password (<c>scram-sha-256</c>), with a database holding the
/// demo schema, data and monitoring functions: for proving that passwords work from every source and show nowhere.
/// Needs local server binaries (<see cref="LocalPostgresAvailable"/>).
/// </summary>
public sealed class PasswordProtectedPostgres : IAsyncLifetime
{
    /// <summary>The superuser's password: ';', '=', quotes, '%', '@' and a space, all that a connection string or URI must escape.</summary>
    public const string Password = "Pw7;Sekr1t=Zeb'\"%40 Kqx@Q7v";

    /// <summary>The database the verbs target.</summary>
    public const string Database = "app";

    private ThrowawayPostgres? _server;

    public string Host => "127.0.0.1";
    public int Port { get; private set; }

    /// <summary>The target without a password: it must come from PGPASSWORD or a pgpass file.</summary>
    public string TargetWithoutPassword => $"Host={Host};Port={Port};Username=postgres;Database={Database}";

    /// <summary>The target with the password in it, quoted as Npgsql needs.</summary>
    public string TargetWithPassword => new NpgsqlConnectionStringBuilder(TargetWithoutPassword) { Password = Password }.ConnectionString;

    /// <summary>The same, as a URI with the password percent-encoded.</summary>
    public string UriWithPassword => $"postgresql://postgres:{Uri.EscapeDataString(Password)}@{Host}:{Port}/{Database}?sslmode=disable";

    /// <summary>Null when local server binaries are installed; otherwise why the tests using this fixture cannot run.</summary>
    public static string? LocalPostgresAvailable() => LocalCluster.Binaries() is { Directory: null } probe ? probe.Reason : null;

    public async Task InitializeAsync()
    {
        var (binaries, _) = LocalCluster.Binaries();
        if (binaries is null)
            return;   // every test using this fixture is a LocalPostgresFact, skipped saying why
        _server = await LocalCluster.StartAsync(binaries, LocalCluster.DefaultRoot, Environment.ProcessId, NullLogger.Instance,
            CancellationToken.None, superuserPassword: Password);
        Port = new NpgsqlConnectionStringBuilder(_server.ConnectionString).Port;
        await DatabaseAdmin.CreateAsync(_server.ConnectionString, Database, template: null, CancellationToken.None);
        var database = new NpgsqlConnectionStringBuilder(ConnectionStrings.WithDatabase(_server.ConnectionString, Database)) { Pooling = false }.ConnectionString;
        await DemoDatabase.CreateAsync(database, TestPostgres.TemplateContacts, CancellationToken.None);
        await ChatOps.Postgres.Monitoring.MonitoringFunctions.InstallAsync(database, CancellationToken.None);
        NpgsqlConnection.ClearAllPools();
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
