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

    [LocalPostgresFact]
    public async Task A_cluster_whose_owner_died_is_stopped_and_removed_and_a_live_ones_kept()
    {
        var bin = LocalBinaries.Find().Directory;
        Assert.NotNull(bin);
        var root = Path.Combine(Path.GetTempPath(), $"chatops-pg-test-{Guid.NewGuid():N}");

        // A process that owned a cluster and was killed, as a test run killed mid-way would be.
        using var owner = StartOwner();
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
            if (!owner.HasExited) owner.Kill();
            await live.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    [LocalPostgresFact]
    public async Task The_watchdog_stops_and_removes_a_cluster_soon_after_its_owner_is_killed()
    {
        var bin = LocalBinaries.Find().Directory;
        Assert.NotNull(bin);
        var root = Path.Combine(Path.GetTempPath(), $"chatops-pg-test-{Guid.NewGuid():N}");
        using var owner = StartOwner();
        var cluster = await LocalCluster.StartAsync(bin, root, owner.Id, NullLogger.Instance, CancellationToken.None);
        try
        {
            await AssertAnswersAsync(cluster.ConnectionString);
            owner.Kill();
            await owner.WaitForExitAsync();   // reaped: `kill -0` succeeds on a zombie

            // The effect itself, the folder gone (the watchdog looks every second, then stops the server).
            await Poll.UntilAsync(() => Task.FromResult(Directory.GetDirectories(root).Length == 0),
                "the watchdog to stop the cluster and remove its folder", TimeSpan.FromSeconds(60));

            await Assert.ThrowsAnyAsync<NpgsqlException>(() => AssertAnswersAsync(cluster.ConnectionString));
        }
        finally
        {
            if (!owner.HasExited) owner.Kill();
            await cluster.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    // Outlives any wait of the test: only the test's kill ends it, never the clock.
    private static Process StartOwner() => Process.Start(new ProcessStartInfo("sleep", "3600"))!;

    private static async Task AssertAnswersAsync(string connectionString)
    {
        // A stopped server refuses at once; the bound is for a live one slow to fork a backend on a loaded machine.
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 30 }.ConnectionString;
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }
}
