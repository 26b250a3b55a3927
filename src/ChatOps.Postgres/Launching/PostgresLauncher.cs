using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Postgres.Launching;

/// <summary>
/// Finds a PostgreSQL for the demo and the tests, in order: a connection string that was given,
/// a container when a Docker engine answers, a temporary cluster from local server binaries.
/// Never used by <c>serve</c> or <c>run</c>: their state must outlive the process.
/// </summary>
public sealed class PostgresLauncher(ILogger? logger = null)
{
    /// <summary>The environment variable the test fixture reads for a server to use instead of starting one.</summary>
    public const string TestConnectionVariable = "CHATOPS_TEST_POSTGRES";

    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Starts (or adopts) a server. <paramref name="connectionString"/> wins when given.</summary>
    public async Task<ThrowawayPostgres> StartAsync(string? connectionString, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(connectionString))
            return new ThrowawayPostgres(connectionString, $"the given server ({ConnectionStrings.Describe(connectionString)})", stop: null);

        var docker = await DockerEngine.ProbeAsync(cancellationToken);
        if (docker.Available)
        {
            try
            {
                return await ContainerPostgres.StartAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                docker = new DockerProbe(false, $"a Docker engine answered but the container failed: {ex.Message}");
                _logger.LogWarning("PostgreSQL container failed to start, trying local binaries: {Reason}", ex.Message);
            }
        }

        var binaries = LocalBinaries.Find();
        if (binaries.Directory is not null)
            return await LocalCluster.StartAsync(binaries.Directory, LocalCluster.DefaultRoot, Environment.ProcessId, _logger, cancellationToken);

        throw new PostgresUnavailableException(
            "No PostgreSQL is available. Provide one of:\n" +
            $"  1. a connection string: --connection \"Host=…;Username=…;Password=…\" (demo) or {TestConnectionVariable}=… (tests);\n" +
            $"  2. a running Docker engine for Testcontainers ({docker.Reason});\n" +
            $"  3. PostgreSQL server binaries (initdb, pg_ctl, postgres), e.g. `apt-get install postgresql` ({binaries.Reason}).");
    }
}
