using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>A pinned file changed on disk before execution voids every sign-off, nothing runs, and the card says why — at a sign-off and right before the run.</summary>
public class PinnedFileTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    // DeploymentOwner's advisory lock on a deployment, ('CHDO', number): held here, no owner can start deployment 1.
    private static readonly string OwnerLock = $"{0x4348444F}, 1";

    private Task<long> TablesAsync(string name) => target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = $1", name);

    private Task<string> AuditAsync() =>
        state.ScalarAsync<string>("SELECT string_agg(who || ': ' || what, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");

    private Task<string> StateAsync() => state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1");

    [Fact]
    public async Task A_file_changed_between_the_third_and_fourth_sign_off_voids_them_all_and_signing_again_runs_the_pinned_bytes()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_late", "CREATE TABLE pf_late_a (id int);\n", rollback: "DROP TABLE IF EXISTS pf_late_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_late", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");

        await File.WriteAllTextAsync(Path.Combine(folder.Path, "pf_late.sql"), "CREATE TABLE pf_late_b (id int);\n");
        await bot.SayAsync("react pete ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal("AwaitingApproval", await StateAsync());
        var card = (await bot.CardAsync(1))!;
        Assert.Equal("⏳ AWAITING SIGN-OFF (1/4) · sign-offs voided", card.Status);   // pete's sign-off came after the change
        Assert.StartsWith("pf_late.sql changed on disk after signing (sha256 now ", Assert.Single(card.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal(0L, await TablesAsync("pf_late_a"));
        Assert.Equal(0L, await TablesAsync("pf_late_b"));

        // Seen and signed again: the pinned bytes run, the change is not taken as new a second time.
        await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal("Completed", await StateAsync());
        Assert.Equal(1L, await TablesAsync("pf_late_a"));
        Assert.Equal(0L, await TablesAsync("pf_late_b"));
        var audit = await AuditAsync();
        Assert.Single(audit.Split('\n'), l => l.StartsWith("bot: sign-offs void: pf_late.sql changed on disk", StringComparison.Ordinal));
        Assert.Contains("bot: execution started", audit);
    }

    [Fact]
    public async Task A_file_changed_after_approval_but_before_the_run_starts_voids_the_sign_offs_and_nothing_runs()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_gap", "CREATE TABLE pf_gap_a (id int);\n", rollback: "DROP TABLE IF EXISTS pf_gap_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_gap");

        await using (var holder = await state.OpenAsync("test:owner-lock"))
        {
            await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({OwnerLock})", holder))
                await take.ExecuteNonQueryAsync();
            await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
            Assert.Equal("Approved", await StateAsync());   // approved, and no owner could start it yet

            await File.WriteAllTextAsync(Path.Combine(folder.Path, "pf_gap.rollback.sql"), "DROP TABLE IF EXISTS pf_gap_a CASCADE;");
            await using var release = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_unlock({OwnerLock})", holder);
            await release.ExecuteNonQueryAsync();
        }
        await bot.SettleAsync();

        Assert.Equal("AwaitingApproval", await StateAsync());
        Assert.Contains("⚠️ D-1 did not start: pf_gap.rollback.sql changed on disk after signing (sha256 now ", bot.Transcript);
        var card = (await bot.CardAsync(1))!;
        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4) · sign-offs voided", card.Status);
        Assert.StartsWith("pf_gap.rollback.sql changed on disk after signing", Assert.Single(card.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal(0L, await TablesAsync("pf_gap_a"));
        var audit = await AuditAsync();
        Assert.Contains("bot: sign-offs void: pf_gap.rollback.sql changed on disk", audit);
        Assert.DoesNotContain("execution started", audit);
    }
}
