using System.Globalization;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>
/// What the inbound benchmarks run <c>serve</c> on: a throwaway PostgreSQL with a state and a target database, and a migration
/// folder with two migrations — one that runs for <see cref="InboundSettings.RunningFor"/> (statements of <c>pg_sleep</c>, each a
/// line in its card's thread) and one that waits for sign-offs (the card the load reacts on).
/// </summary>
public sealed class InboundRig : IAsyncDisposable
{
    /// <summary>The migration that runs during the load.</summary>
    public const string Running = "bench_running";

    /// <summary>The migration whose card collects the load's reactions (nobody who may sign reacts, so it waits).</summary>
    public const string Waiting = "bench_waiting";

    /// <summary>How long each statement of <see cref="Running"/> sleeps: one thread line each.</summary>
    public static readonly TimeSpan StatementSleep = TimeSpan.FromMilliseconds(200);

    private readonly ThrowawayPostgres _server;
    private readonly string _folder;
    private readonly string[] _databases;

    private InboundRig(ThrowawayPostgres server, string folder, string state, string target)
    {
        (_server, _folder) = (server, folder);
        _databases = [state, target];
        State = ConnectionStrings.WithDatabase(server.ConnectionString, state);
        Ledger = new NpgsqlConnectionStringBuilder(State) { Pooling = false }.ConnectionString;
        Target = ConnectionStrings.WithDatabase(server.ConnectionString, target);
    }

    /// <summary>The bot's state database as <c>serve</c> is given it: as a user would write it (Npgsql pools by default).</summary>
    public string State { get; }

    /// <summary>The state database for the benchmark's own reads (pooling off: it only reads now and then).</summary>
    public string Ledger { get; }

    /// <summary>Where the migrations go.</summary>
    public string Target { get; }

    /// <summary>The server, as the report names it.</summary>
    public string Server => _server.Description;

    /// <summary>How many statements <see cref="Running"/> has.</summary>
    public int RunningStatements { get; private init; }

    public static async Task<InboundRig> StartAsync(string platform, InboundSettings settings, CancellationToken cancellationToken)
    {
        var server = await new PostgresLauncher().StartAsync(settings.Connection, cancellationToken);
        var suffix = $"{platform.ToLowerInvariant()}_{System.Environment.ProcessId}";
        string state = $"inbound_state_{suffix}", target = $"inbound_target_{suffix}";
        foreach (var database in new[] { state, target })
        {
            await DatabaseAdmin.DropAsync(server.ConnectionString, database, cancellationToken);
            await DatabaseAdmin.CreateAsync(server.ConnectionString, database, null, cancellationToken);
        }
        var folder = Directory.CreateTempSubdirectory("chatops-inbound-").FullName;
        var statements = (int)Math.Ceiling(settings.RunningFor / StatementSleep);
        var sleep = StatementSleep.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        await File.WriteAllTextAsync(Path.Combine(folder, Running + ".sql"), string.Concat(Enumerable.Repeat($"SELECT pg_sleep({sleep});\n", statements)), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, Running + ".rollback.sql"), "SELECT 1;\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, Waiting + ".sql"), "CREATE TABLE bench_waiting (id int);\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, Waiting + ".rollback.sql"), "DROP TABLE IF EXISTS bench_waiting;\n", cancellationToken);
        return new InboundRig(server, folder, state, target) { RunningStatements = statements };
    }

    /// <summary><c>serve</c>'s environment: the databases, the migrations, the four roles (and a requester), plus the platform's keys.</summary>
    /// <param name="requester">Starts both deployments (a second Senior Backend Engineer, so the four below can sign).</param>
    /// <param name="signers">Database Administrator, Senior Backend Engineer, DevOps/SRE Lead, Product Owner, in that order.</param>
    public Dictionary<string, string> Environment(string requester, IReadOnlyList<string> signers, params (string Name, string Value)[] platform)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__State"] = State,
            ["ConnectionStrings__Target"] = Target,
            ["ChatOps__Migrations__Directory"] = _folder,
            ["ChatOps__Roles__DatabaseAdministrator__0"] = signers[0],
            ["ChatOps__Roles__SeniorBackendEngineer__0"] = signers[1],
            ["ChatOps__Roles__SeniorBackendEngineer__1"] = requester,
            ["ChatOps__Roles__DevOpsLead__0"] = signers[2],
            ["ChatOps__Roles__ProductOwner__0"] = signers[3],
        };
        foreach (var (name, value) in platform)
            environment[name] = value;
        return environment;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var database in _databases)
            await DatabaseAdmin.DropAsync(_server.ConnectionString, database, CancellationToken.None);
        await _server.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
