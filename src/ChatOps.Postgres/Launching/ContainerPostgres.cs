using Testcontainers.PostgreSql;

namespace ChatOps.Postgres.Launching;

/// <summary>PostgreSQL 15 in a container, for machines with a Docker engine.</summary>
internal static class ContainerPostgres
{
    public static async Task<ThrowawayPostgres> StartAsync(CancellationToken cancellationToken)
    {
        var container = new PostgreSqlBuilder("postgres:15-alpine")
            .WithCommand("-c", $"max_connections={LocalCluster.MaxConnections}")
            .Build();
        await container.StartAsync(cancellationToken);
        return new ThrowawayPostgres(
            container.GetConnectionString(),
            $"container {container.Name} (postgres:15-alpine)",
            () => container.DisposeAsync());
    }
}
