using System.Diagnostics;
using ChatOps.Postgres.Launching;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ChatOps.Postgres.Tests;

public class LauncherTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task The_fixture_server_is_a_real_postgres_with_room_for_the_benchmark()
    {
        Assert.StartsWith("PostgreSQL ", await db.ScalarAsync<string>("SELECT version()"));
        if (Environment.GetEnvironmentVariable(PostgresLauncher.TestConnectionVariable) is null)
            Assert.Equal("300", await db.ScalarAsync<string>("SHOW max_connections"));
    }

    [Fact]
    public async Task Each_test_class_gets_its_own_copy_of_the_template()
    {
        var other = new PostgresDatabase();
        await other.InitializeAsync();
        try
        {
            await db.ExecuteAsync("DELETE FROM public.contacts WHERE name = 'Contact 7'");
            Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE name = 'Contact 7'"));
            Assert.Equal(1L, await other.ScalarAsync<long>("SELECT count(*) FROM public.contacts WHERE name = 'Contact 7'"));
            Assert.Equal((long)TestPostgres.TemplateContacts, await other.ScalarAsync<long>("SELECT count(*) FROM public.contacts"));
        }
        finally
        {
            await other.DisposeAsync();
        }
        // The dropped copy is gone from the server.
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname = $1", other.Name));
    }

    [Fact]
    public async Task A_cluster_whose_owner_died_is_stopped_and_removed_and_a_live_ones_kept()
    {
        if (LocalBinaries.Find().Directory is not { } bin)
            return;   // this machine starts its servers another way; nothing local to clean
        var root = Path.Combine(Path.GetTempPath(), $"chatops-pg-test-{Guid.NewGuid():N}");

        // A process that owned a cluster and was killed, as a test run killed mid-way would be.
        using var owner = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        // No watchdogs here: this test is about the clean-up a later launch does.
        var orphan = await LocalCluster.StartAsync(bin, root, owner.Id, NullLogger.Instance, CancellationToken.None, watchOwner: false);
        var live = await LocalCluster.StartAsync(bin, root, Environment.ProcessId, NullLogger.Instance, CancellationToken.None, watchOwner: false);
        try
        {
            await AssertAnswersAsync(orphan.ConnectionString);
            owner.Kill();
            await owner.WaitForExitAsync();

            var removed = await LocalCluster.RemoveStaleAsync(bin, root, NullLogger.Instance, CancellationToken.None);

            Assert.Equal(1, removed);
            Assert.Single(Directory.GetDirectories(root));
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => AssertAnswersAsync(orphan.ConnectionString));
            await AssertAnswersAsync(live.ConnectionString);
        }
        finally
        {
            await live.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task The_watchdog_stops_and_removes_a_cluster_soon_after_its_owner_is_killed()
    {
        if (LocalBinaries.Find().Directory is not { } bin)
            return;
        var root = Path.Combine(Path.GetTempPath(), $"chatops-pg-test-{Guid.NewGuid():N}");
        using var owner = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        var cluster = await LocalCluster.StartAsync(bin, root, owner.Id, NullLogger.Instance, CancellationToken.None);
        try
        {
            await AssertAnswersAsync(cluster.ConnectionString);
            owner.Kill();

            // Wait for the effect itself (the folder gone), polling, up to a generous bound.
            for (var i = 0; i < 150 && Directory.GetDirectories(root).Length > 0; i++)
                await Task.Delay(100);

            Assert.Empty(Directory.GetDirectories(root));
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => AssertAnswersAsync(cluster.ConnectionString));
        }
        finally
        {
            await cluster.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task AssertAnswersAsync(string connectionString)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 3 }.ConnectionString;
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }
}
