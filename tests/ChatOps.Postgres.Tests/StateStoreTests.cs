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

    [Fact]
    public async Task A_message_written_with_a_state_change_is_kept_or_lost_with_it_never_one_without_the_other()
    {
        await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None);
        var store = new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy());
        var outbox = new Outbox(new StateConnections(db.ConnectionString), TimeProvider.System);
        var id = await store.NextIdAsync(CancellationToken.None);
        var deployment = new Deployment(id, new PinnedMigration("m_tx", new PinnedFile("m_tx.sql", new string('a', 64), "SELECT 1;\n"u8.ToArray()), null, null),
            "db:5432/app", "req", "C-tx", Holders, new SignOffPolicy(), T0);
        deployment.AwaitApproval(T0, checksPass: true);
        await store.SaveAsync(deployment, CancellationToken.None);
        var before = await db.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE channel = 'C-tx'");

        // A transaction that fails after writing both: neither the sign-off nor its message is there.
        await using (var scope = await store.BeginAsync(CancellationToken.None))
        {
            var loaded = (await store.LoadForUpdateAsync(scope, id, CancellationToken.None))!;
            loaded.SignOff("dan", [], T0.AddMinutes(1));
            await store.SaveAsync(scope, loaded, CancellationToken.None);
            await outbox.PostAsync(scope, "Local", "C-tx", new Core.Conversation.ChatMessage("dan signed (rolled back)"), CancellationToken.None, id.Number);
            // disposed without a commit: rolled back
        }
        Assert.Equal(before, await db.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE channel = 'C-tx'"));
        Assert.Empty((await store.LoadAsync(id, CancellationToken.None))!.SignOffs.Signers);

        // Committed: both are there.
        await using (var scope = await store.BeginAsync(CancellationToken.None))
        {
            var loaded = (await store.LoadForUpdateAsync(scope, id, CancellationToken.None))!;
            loaded.SignOff("dan", [], T0.AddMinutes(1));
            await store.SaveAsync(scope, loaded, CancellationToken.None);
            await outbox.PostAsync(scope, "Local", "C-tx", new Core.Conversation.ChatMessage("dan signed"), CancellationToken.None, id.Number);
            await scope.CommitAsync(CancellationToken.None);
        }
        Assert.Equal(before + 1, await db.ScalarAsync<long>("SELECT count(*) FROM chatops_state.outbox WHERE channel = 'C-tx'"));
        Assert.Equal(["dan"], (await store.LoadAsync(id, CancellationToken.None))!.SignOffs.Signers.Keys);
    }

    [Fact]
    public async Task A_sign_off_keeps_the_roles_its_signer_held_through_a_group_when_the_configuration_changes_after_saving()
    {
        await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None);
        var withGroups = new RoleHolders(new Dictionary<SignOffRole, IReadOnlySet<string>>
        {
            [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan", "group:SDBA" },
            [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam" },
            [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
            [SignOffRole.ProductOwner] = new HashSet<string> { "pete", "erin" },
        });
        var store = new DeploymentStore(db.ConnectionString, withGroups, new SignOffPolicy());
        var id = await store.NextIdAsync(CancellationToken.None);
        var deployment = new Deployment(id, new PinnedMigration("m2", new PinnedFile("m2.sql", new string('c', 64), [0x2D]), null, null),
            "db:5432/app", "req", "C9", withGroups, new SignOffPolicy(), T0);
        deployment.AwaitApproval(T0, checksPass: true);
        deployment.SignOff("erin", ["SDBA"], T0.AddMinutes(1));   // DBA through the group, Product Owner directly
        deployment.SignOff("sam", [], T0.AddMinutes(2));
        await store.SaveAsync(deployment, CancellationToken.None);
        Assert.Equal("{DatabaseAdministrator,ProductOwner}", await db.ScalarAsync<string>(
            "SELECT roles::text FROM chatops_state.sign_offs WHERE deployment = $1 AND user_id = 'erin'", id.Number));

        // Read back under a configuration that no longer names the group, nor erin: what she signed for stands.
        var back = await new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy()).LoadAsync(id, CancellationToken.None);
        Assert.NotNull(back);
        Assert.Equal([SignOffRole.DatabaseAdministrator, SignOffRole.ProductOwner], back.SignOffs.Signers["erin"].Roles);
        Assert.Equal([SignOffRole.SeniorBackendEngineer], back.SignOffs.Signers["sam"].Roles);
        Assert.Equal(T0.AddMinutes(1), back.SignOffs.Signers["erin"].At);
        back.SignOff("olga", [], T0.AddMinutes(3));
        back.SignOff("pete", [], T0.AddMinutes(4));
        Assert.Equal(DeploymentState.Approved, back.State);
        Assert.Equal("erin", back.SignOffs.Assignment(T0.AddMinutes(4))[SignOffRole.DatabaseAdministrator]);
    }

    [Fact]
    public async Task Version_3_adds_the_roles_to_sign_offs_and_the_sign_offs_stored_before_take_their_roles_from_the_user_id_lists()
    {
        await db.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        Assert.Equal([1, 2], await StateDatabase.MigrateAsync(db.ConnectionString, 2, CancellationToken.None));
        // A deployment as a version-2 bot saved it: dan signed (DBA by the lists), sam too.
        await db.ExecuteAsync("""
            INSERT INTO chatops_state.deployments (id, migration, sql_name, sql_sha256, sql_bytes, target, requester, channel, state, checks_pass)
            VALUES (7, 'm7', 'm7.sql', repeat('d', 64), '\x2d2d', 'db:5432/app', 'req', 'C7', 'AwaitingApproval', true)
            """);
        await db.ExecuteAsync("""
            INSERT INTO chatops_state.sign_offs (deployment, user_id, signed_at) VALUES
                (7, 'dan', '2026-11-28 02:01:00+00'), (7, 'sam', '2026-11-28 02:02:00+00')
            """);

        Assert.Equal([3], await StateDatabase.MigrateAsync(db.ConnectionString, 3, CancellationToken.None));

        Assert.Equal(2, await db.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.sign_offs WHERE deployment = 7 AND roles IS NULL"));
        // The bot of today reads them once the later versions are applied too (none of them touches the roles).
        await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None);
        Assert.Equal(2, await db.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.sign_offs WHERE deployment = 7 AND roles IS NULL"));
        var store = new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy());
        var old = await store.LoadAsync(new Core.Conversation.DeploymentId(7), CancellationToken.None);
        Assert.NotNull(old);
        Assert.Equal([SignOffRole.DatabaseAdministrator], old.SignOffs.Signers["dan"].Roles);
        Assert.Equal([SignOffRole.SeniorBackendEngineer], old.SignOffs.Signers["sam"].Roles);
        Assert.Equal(T0.AddMinutes(1), old.SignOffs.Signers["dan"].At);
        Assert.Equal(2, old.SignOffs.Assignment(T0.AddMinutes(5)).Count);

        // Saved again, the roles it was judged by are written down.
        await store.SaveAsync(old, CancellationToken.None);
        Assert.Equal("{DatabaseAdministrator}", await db.ScalarAsync<string>("SELECT roles::text FROM chatops_state.sign_offs WHERE deployment = 7 AND user_id = 'dan'"));
    }

    [Fact]
    public async Task How_a_sign_off_was_given_comes_back_as_saved()
    {
        await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None);
        var store = new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy());
        var id = await store.NextIdAsync(CancellationToken.None);
        var deployment = new Deployment(id, new PinnedMigration("m3", new PinnedFile("m3.sql", new string('e', 64), [0x2D]), null, null),
            "db:5432/app", "req", "C3", Holders, new SignOffPolicy(), T0);
        deployment.AwaitApproval(T0, checksPass: true);
        deployment.SignOff("dan", [], T0.AddMinutes(1), SignOffGivenBy.Reaction);
        deployment.SignOff("sam", [], T0.AddMinutes(2), SignOffGivenBy.Command);
        deployment.SignOff("olga", [], T0.AddMinutes(3));
        await store.SaveAsync(deployment, CancellationToken.None);

        Assert.Equal("dan=Reaction olga=? sam=Command", await db.ScalarAsync<string>(
            "SELECT string_agg(user_id || '=' || coalesce(given_by, '?'), ' ' ORDER BY user_id) FROM chatops_state.sign_offs WHERE deployment = $1", id.Number));
        var back = await store.LoadAsync(id, CancellationToken.None);
        Assert.NotNull(back);
        Assert.Equal([("dan", SignOffGivenBy.Reaction), ("olga", SignOffGivenBy.Unknown), ("sam", SignOffGivenBy.Command)],
            back.SignOffs.Signers.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value.GivenBy)));
        // As read back, a listing of the card's ✅ with nobody on it revokes only the reaction's sign-off.
        back.ReactionsListed([], _ => [], T0.AddMinutes(9));
        Assert.Equal(["olga", "sam"], back.SignOffs.Signers.Keys.Order());
    }

    [Fact]
    public async Task Version_7_adds_how_a_sign_off_was_given_and_a_sign_off_stored_before_is_unknown_and_never_revoked_for_a_missing_reaction()
    {
        await db.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        Assert.Equal([1, 2, 3, 4, 5, 6], await StateDatabase.MigrateAsync(db.ConnectionString, 6, CancellationToken.None));
        // Signed under a version-6 bot: by a reaction or by approve, nobody wrote down which.
        await db.ExecuteAsync("""
            INSERT INTO chatops_state.deployments (id, migration, sql_name, sql_sha256, sql_bytes, target, requester, channel, state, checks_pass)
            VALUES (8, 'm8', 'm8.sql', repeat('d', 64), '\x2d2d', 'db:5432/app', 'req', 'C8', 'AwaitingApproval', true)
            """);
        await db.ExecuteAsync("""
            INSERT INTO chatops_state.sign_offs (deployment, user_id, signed_at, roles)
            VALUES (8, 'dan', '2026-11-28 02:01:00+00', '{DatabaseAdministrator}')
            """);

        Assert.Equal([7], await StateDatabase.MigrateAsync(db.ConnectionString, CancellationToken.None));

        Assert.Equal(1, await db.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.sign_offs WHERE deployment = 8 AND given_by IS NULL"));
        var store = new DeploymentStore(db.ConnectionString, Holders, new SignOffPolicy());
        var old = await store.LoadAsync(new Core.Conversation.DeploymentId(8), CancellationToken.None);
        Assert.NotNull(old);
        Assert.Equal(SignOffGivenBy.Unknown, old.SignOffs.Signers["dan"].GivenBy);
        var reconciled = old.ReactionsListed([], _ => [], T0.AddMinutes(9));   // dan has no ✅ on the card
        Assert.Empty(reconciled.Removed);
        Assert.Equal(["dan"], old.SignOffs.Signers.Keys);

        // Saved again, it stays unknown: NULL, not a guess.
        await store.SaveAsync(old, CancellationToken.None);
        Assert.Equal(1, await db.ScalarAsync<int>("SELECT count(*)::int FROM chatops_state.sign_offs WHERE deployment = 8 AND user_id = 'dan' AND given_by IS NULL"));
    }
}
