using ChatOps.Core.Approvals;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.State;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>The state database on a real server: migrated once however many start together, and a deployment back exactly as saved.</summary>
public class StateStoreTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);

    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    [Fact]
    public async Task Replicas_starting_together_migrate_the_schema_once()
    {
        await db.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");   // the other test of this class may have run first
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None)));
        Assert.Equal(1, results.Count(r => r.Count > 0));
        Assert.Equal(Enumerable.Range(1, StateDatabase.CurrentVersion), results.Single(r => r.Count > 0));
        Assert.Equal(StateDatabase.CurrentVersion, await db.ScalarAsync<int>("SELECT max(version) FROM chatops_state.schema_version"));
        Assert.Empty(await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None));
    }

    [Fact]
    public async Task A_deployment_comes_back_exactly_as_saved_with_its_pinned_bytes_sign_offs_and_audit()
    {
        await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None);
        var store = new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy());
        var id = await store.NextIdAsync(CancellationToken.None);
        var sql = "ALTER TABLE t ADD COLUMN c int;\n"u8.ToArray();
        var deployment = new Deployment(id, new PinnedMigration("m1", new PinnedFile("m1.sql", new string('a', 64), sql),
            new PinnedFile("m1.rollback.sql", new string('b', 64), [0x2D, 0x2D]), null), "db:5432/app", "req", "C1", Holders, new SignOffPolicy(), T0);
        deployment.AwaitApproval(T0, checksPass: true);
        deployment.SignOff("dan", [], T0.AddMinutes(1));
        deployment.SignOff("mallory", [], T0.AddMinutes(2));   // not counted, but audited
        await store.SaveAsync(deployment, CancellationToken.None);
        deployment.SignOff("sam", [], T0.AddMinutes(3));
        await store.SaveAsync(deployment, CancellationToken.None);   // appends only the new audit line

        var back = await store.LoadAsync(id, CancellationToken.None);

        Assert.NotNull(back);
        Assert.Equal(DeploymentState.AwaitingApproval, back.State);
        Assert.Equal(sql, back.Migration.Sql.Bytes);
        Assert.Equal(new string('b', 64), back.Migration.Rollback!.Sha256);
        Assert.Null(back.Migration.Runbook);
        Assert.Equal(["dan", "sam"], back.SignOffs.Signers.Keys.Order());
        Assert.Equal(T0.AddMinutes(1), back.SignOffs.Signers["dan"].At);
        Assert.Equal(deployment.Audit.Select(a => (a.Who, a.What, a.Counted)), back.Audit.Select(a => (a.Who, a.What, a.Counted)));
        Assert.Equal(deployment.Audit.Count, await db.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = $1", id.Number));

        // The restored aggregate goes on where it stopped: two more sign-offs approve it.
        back.SignOff("olga", [], T0.AddMinutes(4));
        back.SignOff("pete", [], T0.AddMinutes(5));
        Assert.Equal(DeploymentState.Approved, back.State);
        await store.SaveAsync(back, CancellationToken.None);
        Assert.Equal("Approved", await db.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = $1", id.Number));

        var active = await store.ActiveInAsync("C1", CancellationToken.None);
        Assert.Equal(id, Assert.Single(active).Id);
        Assert.Empty(await store.ActiveInAsync("C2", CancellationToken.None));
        Assert.Null(await store.LoadAsync(new Core.Conversation.DeploymentId(999), CancellationToken.None));
    }
}
