using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>
/// The bot's own database (<c>ConnectionStrings:State</c>): deployments, their pinned files, sign-offs and audit trail, the inbox
/// and the outbox (and Quartz's tables, which Quartz provisions itself).
/// Its schema is versioned and migrated at start-up under an advisory lock, so replicas starting together do not race.
/// </summary>
public static class StateDatabase
{
    // 'CHST': the state schema's migration lock, apart from the target's run lock namespace.
    private const int MigrationLock = 0x43485354;

    /// <summary>Each version's statements, applied in order, once. Never edit a released version: add the next one.</summary>
    private static readonly string[][] Versions =
    [
        [
            """
            CREATE TABLE chatops_state.deployments (
                id              int PRIMARY KEY,
                migration       text NOT NULL,
                sql_name        text NOT NULL,
                sql_sha256      text NOT NULL,
                sql_bytes       bytea NOT NULL,
                rollback_name   text,
                rollback_sha256 text,
                rollback_bytes  bytea,
                runbook_name    text,
                runbook_sha256  text,
                runbook_bytes   bytea,
                target          text NOT NULL,
                requester       text NOT NULL,
                channel         text NOT NULL,
                state           text NOT NULL,
                phase           text,
                voided_because  text,
                checks_pass     boolean NOT NULL,
                checks          jsonb,
                card_message    text,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX deployments_by_channel ON chatops_state.deployments (channel, state)",
            "CREATE SEQUENCE chatops_state.deployment_numbers",
            """
            CREATE TABLE chatops_state.sign_offs (
                deployment int NOT NULL REFERENCES chatops_state.deployments (id),
                user_id    text NOT NULL,
                signed_at  timestamptz NOT NULL,
                PRIMARY KEY (deployment, user_id))
            """,
            """
            CREATE TABLE chatops_state.audit_events (
                deployment int NOT NULL REFERENCES chatops_state.deployments (id),
                seq        int NOT NULL,
                at         timestamptz NOT NULL,
                who        text NOT NULL,
                what       text NOT NULL,
                counted    boolean NOT NULL,
                PRIMARY KEY (deployment, seq))
            """,
        ],
        [
            // Issue 13: several platforms, prompts and run checkpoints that survive a restart, the inbox and the outbox.
            "ALTER TABLE chatops_state.deployments ADD COLUMN platform text NOT NULL DEFAULT 'Local'",
            "ALTER TABLE chatops_state.deployments ADD COLUMN rollback_prompt text",
            "ALTER TABLE chatops_state.deployments ADD COLUMN rollback_prompt_until timestamptz",
            "ALTER TABLE chatops_state.deployments ADD COLUMN checkpoint jsonb",
            "ALTER TABLE chatops_state.deployments ADD COLUMN database_state text",
            """
            CREATE TABLE chatops_state.inbox (
                seq         bigserial PRIMARY KEY,
                platform    text NOT NULL,
                event_id    text NOT NULL,
                kind        text NOT NULL,
                event       jsonb NOT NULL,
                received_at timestamptz NOT NULL,
                attempts    int NOT NULL DEFAULT 0,
                handled_at  timestamptz,
                outcome     text,
                UNIQUE (platform, event_id))
            """,
            "CREATE INDEX inbox_unhandled ON chatops_state.inbox (seq) WHERE handled_at IS NULL",
            """
            CREATE TABLE chatops_state.outbox (
                id               bigserial PRIMARY KEY,
                platform         text NOT NULL,
                channel          text NOT NULL,
                kind             text NOT NULL,
                key              text,
                target           text,
                caller           jsonb,
                message          jsonb,
                emoji            text,
                deployment       int,
                created_at       timestamptz NOT NULL,
                attempts         int NOT NULL DEFAULT 0,
                not_before       timestamptz NOT NULL,
                sent_at          timestamptz,
                platform_channel text,
                platform_id      text,
                parked_at        timestamptz,
                last_error       text)
            """,
            "CREATE UNIQUE INDEX outbox_key ON chatops_state.outbox (platform, key) WHERE key IS NOT NULL",
            "CREATE INDEX outbox_pending ON chatops_state.outbox (platform, channel, id) WHERE sent_at IS NULL AND parked_at IS NULL",
            "CREATE INDEX outbox_platform_id ON chatops_state.outbox (platform, platform_id) WHERE platform_id IS NOT NULL",
        ],
        [
            // Roles may name platform groups: a sign-off keeps the roles its signer held when signing (a membership can change
            // later, and a removed reaction carries none). NULL on the rows before: their roles come from the user-id lists at load.
            "ALTER TABLE chatops_state.sign_offs ADD COLUMN roles text[]",
        ],
        [
            // A card edit that changes nothing is not sent: its last version is found by the message it edits.
            "CREATE INDEX outbox_target ON chatops_state.outbox (platform, target, id) WHERE target IS NOT NULL",
        ],
        [
            // Issue 14: what monitoring saw (the status posts and the final report read it; a replica taking over continues it), when
            // post-deployment monitoring ends, when the last status was posted, and a rollback prompt the bot answers itself when it lapses.
            "ALTER TABLE chatops_state.deployments ADD COLUMN monitoring jsonb",
            "ALTER TABLE chatops_state.deployments ADD COLUMN monitoring_until timestamptz",
            "ALTER TABLE chatops_state.deployments ADD COLUMN status_posted_at timestamptz",
            "ALTER TABLE chatops_state.deployments ADD COLUMN rollback_prompt_rolls_back boolean NOT NULL DEFAULT false",
        ],
        [
            // Issue 14 §5: the maintenance window a deployment is scheduled into, and whether it opened for it. Quartz's own tables
            // are Quartz's (ProvisionSchema).
            "ALTER TABLE chatops_state.deployments ADD COLUMN window_start timestamptz",
            "ALTER TABLE chatops_state.deployments ADD COLUMN window_end timestamptz",
            "ALTER TABLE chatops_state.deployments ADD COLUMN window_zone text",
            "ALTER TABLE chatops_state.deployments ADD COLUMN window_opened boolean NOT NULL DEFAULT false",
        ],
        [
            // Issue 16 §2: how a sign-off was given ('Reaction', 'Command'): reconciliation after a disconnect revokes only one whose ✅ is
            // gone. NULL on the rows before, which may be either: unknown, never revoked for a missing reaction.
            "ALTER TABLE chatops_state.sign_offs ADD COLUMN given_by text",
        ],
    ];

    /// <summary>The schema version this build needs.</summary>
    public static int CurrentVersion => Versions.Length;

    /// <summary>Brings the state schema to <see cref="CurrentVersion"/> (idempotent; safe with several replicas starting at once).</summary>
    /// <returns>The versions applied now (empty when it was current).</returns>
    public static Task<IReadOnlyList<int>> MigrateAsync(string connectionString, CancellationToken cancellationToken) =>
        MigrateAsync(connectionString, CurrentVersion, cancellationToken);

    /// <summary>Brings the state schema up to <paramref name="version"/> only (tests of a later version's migration start from an earlier one).</summary>
    internal static async Task<IReadOnlyList<int>> MigrateAsync(string connectionString, int version, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(version, CurrentVersion);
        await using var connection = await TargetSession.OpenAsync(connectionString, "chatops:state-migration", cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock}, 1)", cancellationToken);
        await ExecAsync(connection, "CREATE SCHEMA IF NOT EXISTS chatops_state", cancellationToken);
        await ExecAsync(connection, "CREATE TABLE IF NOT EXISTS chatops_state.schema_version (version int NOT NULL)", cancellationToken);
        await using var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM chatops_state.schema_version", connection);
        var at = (int)(await read.ExecuteScalarAsync(cancellationToken))!;
        if (at > CurrentVersion)
            throw new InvalidOperationException(
                $"the state database is at schema version {at}, newer than this build's {CurrentVersion}: run the newer bot, or point ConnectionStrings:State elsewhere");
        var applied = new List<int>();
        for (var next = at + 1; next <= version; next++)
        {
            foreach (var statement in Versions[next - 1])
                await ExecAsync(connection, statement, cancellationToken);
            await ExecAsync(connection, $"INSERT INTO chatops_state.schema_version VALUES ({next})", cancellationToken);
            applied.Add(next);
        }
        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    /// <summary>The version the state database's schema is at (0 before the first migration).</summary>
    public static Task<int> VersionAsync(StateConnections state, CancellationToken cancellationToken) =>
        state.ScalarAsync<int>("SELECT coalesce(max(version), 0) FROM chatops_state.schema_version", cancellationToken);

    private static async Task ExecAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
