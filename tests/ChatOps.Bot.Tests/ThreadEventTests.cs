using System.Text.RegularExpressions;
using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>The card's thread during a run, through the bot: a real blocker on the table the migration alters is named while the statement waits, and the statement's completion says how long it waited for locks.</summary>
public class ThreadEventTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    [Fact]
    public async Task A_session_holding_a_lock_on_the_altered_table_is_named_in_the_thread_and_the_statement_says_it_waited_for_locks()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await target.ExecuteAsync("DROP TABLE IF EXISTS te_t");
        await target.ExecuteAsync("CREATE TABLE te_t (id int)");
        // Before the ALTER, a gate the test holds: the run waits there until the application below has read the table.
        const long gateKey = 0x54455654;   // 'TEVT'
        using var folder = new MigrationFolder().With("te_alter", $"{MigrationGate.Statement(gateKey)}\nALTER TABLE te_t ADD COLUMN c int;\n",
            rollback: "ALTER TABLE te_t DROP COLUMN IF EXISTS c;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await using var gate = await MigrationGate.CloseAsync(target, gateKey);
        await bot.SayAsync("/migrate start te_alter", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await gate.ReachedAsync("chatops:D-1-%", "the statement before the ALTER to run");

        // An application reads te_t in a transaction it leaves open: the ALTER after the gate must wait for it.
        int pid;
        await using (var blocker = await target.OpenAsync("test:blocker"))
        {
            await using var transaction = await blocker.BeginTransactionAsync();
            await using (var self = new Npgsql.NpgsqlCommand("SELECT pg_backend_pid()", blocker, transaction))
                pid = (int)(await self.ExecuteScalarAsync())!;
            await using (var read = new Npgsql.NpgsqlCommand("SELECT count(*) FROM te_t", blocker, transaction))
                await read.ExecuteScalarAsync();
            await gate.DisposeAsync();   // the application holds the table: the gate opens, and the ALTER comes
            await Poll.UntilAsync(() => Task.FromResult(bot.Transcript.Contains($"⏳ #2 waits for pid {pid} ", StringComparison.Ordinal)),
                "the thread to name the blocker", TimeSpan.FromMinutes(1), () => Task.FromResult(bot.Transcript));
            Assert.Equal(0L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'te_t' AND column_name = 'c'"));
            await transaction.RollbackAsync();   // the application finishes: the migration goes on
        }
        await bot.SettleAsync();

        var transcript = bot.Transcript;
        Assert.Matches($@"⏳ #2 waits for pid {pid} \(""test:blocker"", idle in transaction, transaction open [^,]+, AccessShareLock on te_t\): SELECT count\(\*\) FROM te_t\n", transcript);
        var finished = Regex.Match(transcript, @"✓ #2 line 2 in (?<took>[^ ]+ ?[a-z]*) \(waited (?<waited>[^ ]+ ?[a-z]*) for locks\): ALTER TABLE te_t ADD COLUMN c int");
        Assert.True(finished.Success, transcript);
        Assert.DoesNotMatch(@"✓ #1 line 1 in [^\n]*waited", transcript);   // the gate takes no table lock: no lock wait is counted for it
        Assert.True(transcript.IndexOf($"⏳ #2 waits for pid {pid}", StringComparison.Ordinal) < finished.Index);
        Assert.Contains("🟢 VERDICT: SUCCESS", transcript);
        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'te_t' AND column_name = 'c'"));
    }
}
