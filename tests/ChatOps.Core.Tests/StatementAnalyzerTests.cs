using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Testing;

namespace ChatOps.Core.Tests;

public class StatementAnalyzerTests
{
    private static IReadOnlyList<StatementAnalysis> Plan(string sql) => StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql));

    private static readonly DbObjectName Contacts = new("public", "contacts");

    [Fact]
    public void The_seed_migration_takes_only_brief_locks_and_raises_no_warning()
    {
        var plan = Plan(SeedMigration.Sql);

        // One note, for the application: the ADD COLUMN changes the table's row type.
        var note = Assert.Single(plan.SelectMany(p => p.Warnings));
        Assert.Equal((WarningLevel.Notice, "add-column-row-type"), (note.Level, note.Rule));
        Assert.Contains(note, plan[0].Warnings);
        Assert.DoesNotContain(plan, p => p.Rewrites || p.ScansUnderLock);
        var first = plan[0];
        Assert.Equal(new TableLock(Contacts, LockMode.AccessExclusive), Assert.Single(first.Locks));
        Assert.Equal([new ColumnExists(Contacts, "analytics_enabled"), new ColumnExists(Contacts, "last_analytics_update")], first.Postconditions);
        var builds = plan.Where(p => p.Kind == "CREATE INDEX CONCURRENTLY").ToList();
        Assert.Equal(3, builds.Count);
        Assert.All(builds, b => Assert.Equal(LockMode.ShareUpdateExclusive, b.StrongestLock));
        Assert.All(builds, b => Assert.False(b.CanRunInTransaction));
        Assert.Contains(builds, b => b.Postconditions.Contains(new IndexValid(new DbObjectName("public", "idx_contacts_analytics_date"))));
        // DO blocks: locks inferred from their bodies, including the SQL they EXECUTE.
        var validate = plan.Single(p => p.Statement.Text.Contains("VALIDATE CONSTRAINT"));
        Assert.True(validate.Inferred);
        Assert.Equal(LockMode.ShareUpdateExclusive, validate.StrongestLock);
        var restore = plan.Single(p => p.Statement.Text.Contains("array_to_string"));
        Assert.Equal(LockMode.AccessExclusive, restore.StrongestLock);
        var policy = plan.Single(p => p.Kind == "CREATE POLICY");
        Assert.Equal(1, policy.Statement.Block);
        Assert.Contains(new PolicyExists(Contacts, "Analytics access optimized"), policy.Postconditions);
        Assert.Contains(new FunctionExists(new DbObjectName("public", "user_has_contact_access_optimized"), 1),
            plan.Single(p => p.Kind == "CREATE FUNCTION").Postconditions);
    }

    [Fact]
    public void Every_dangerous_form_is_named()
    {
        var plan = Plan("""
            CREATE INDEX idx_a ON contacts (email);
            ALTER TABLE contacts ADD COLUMN token uuid DEFAULT gen_random_uuid();
            ALTER TABLE contacts ALTER COLUMN name SET NOT NULL;
            ALTER TABLE contacts ADD CONSTRAINT positive CHECK (length(name) > 0);
            ALTER TABLE contacts ADD CONSTRAINT fk_org FOREIGN KEY (organization_id) REFERENCES organizations (id);
            BEGIN;
            CREATE INDEX CONCURRENTLY idx_b ON contacts (name);
            COMMIT;
            ALTER TABLE contacts ALTER COLUMN created_at TYPE timestamp;
            ALTER TABLE contacts DROP COLUMN email;
            DROP TABLE old_contacts;
            DROP INDEX idx_a;
            ALTER TABLE contacts ADD CONSTRAINT uq UNIQUE (email);
            """);
        var rules = plan.SelectMany(p => p.Warnings.Select(w => (p.Statement.Line, w.Rule, w.Level))).ToList();

        Assert.Contains((1, "index-not-concurrently", WarningLevel.Warning), rules);
        Assert.Contains((2, "volatile-default", WarningLevel.Warning), rules);
        Assert.Contains((3, "set-not-null", WarningLevel.Warning), rules);
        Assert.Contains((4, "constraint-not-valid", WarningLevel.Warning), rules);
        Assert.Contains((5, "constraint-not-valid", WarningLevel.Warning), rules);
        Assert.Contains((7, "concurrently-in-transaction", WarningLevel.Error), rules);
        Assert.Contains((9, "column-type-change", WarningLevel.Warning), rules);
        Assert.Contains((10, "drop-column", WarningLevel.Warning), rules);
        Assert.Contains((11, "drop-data", WarningLevel.Warning), rules);
        Assert.Contains((12, "drop-index-not-concurrently", WarningLevel.Warning), rules);
        Assert.Contains((13, "constraint-builds-index", WarningLevel.Warning), rules);

        Assert.True(plan[1].Rewrites);
        Assert.True(plan[2].ScansUnderLock);
        Assert.True(plan[8].Rewrites);
        Assert.Equal(LockMode.Share, plan[0].StrongestLock);
        Assert.Equal([new TableLock(new(null, "contacts"), LockMode.ShareRowExclusive), new TableLock(new(null, "organizations"), LockMode.ShareRowExclusive)], plan[4].Locks);
    }

    [Fact]
    public void The_safe_forms_are_not_flagged()
    {
        var plan = Plan("""
            ALTER TABLE contacts ADD COLUMN flag boolean NOT NULL DEFAULT false;
            ALTER TABLE contacts ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID;
            ALTER TABLE contacts VALIDATE CONSTRAINT name_nn;
            ALTER TABLE contacts ALTER COLUMN name SET NOT NULL;
            ALTER TABLE contacts ADD CONSTRAINT fk FOREIGN KEY (organization_id) REFERENCES organizations (id) NOT VALID;
            CREATE TABLE fresh (id int);
            CREATE INDEX fresh_id ON fresh (id);
            """);
        Assert.DoesNotContain(plan.SelectMany(p => p.Warnings), w => w.Level != WarningLevel.Notice);
        Assert.Equal("add-column-row-type", Assert.Single(plan[0].Warnings).Rule);
        Assert.Equal(LockMode.ShareUpdateExclusive, plan[2].StrongestLock);
        Assert.False(plan[3].ScansUnderLock);
    }

    [Theory]
    [InlineData(LockMode.AccessShare, "AccessExclusiveLock")]
    [InlineData(LockMode.ShareUpdateExclusive, "ShareUpdateExclusiveLock,ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock")]
    [InlineData(LockMode.AccessExclusive, "AccessShareLock,RowShareLock,RowExclusiveLock,ShareUpdateExclusiveLock,ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock")]
    public void Conflicts_follow_the_documented_table(LockMode mode, string conflicts) =>
        Assert.Equal(conflicts, string.Join(",", mode.ConflictsWith().Select(m => m.PgLocksName())));
}

public class RowRemovalTests
{
    private static MigrationPlan Plan(string sql) => MigrationPlan.For("m", new string('0', 64), SqlScript.Parse(sql));

    [Theory]
    [InlineData("DELETE FROM public.contacts WHERE id < 10", true)]
    [InlineData("DELETE FROM contacts WHERE id < 10", true)]
    [InlineData("TRUNCATE public.contacts", true)]
    [InlineData("DROP TABLE public.contacts", true)]
    [InlineData("DO $$ BEGIN DELETE FROM public.contacts WHERE name IS NULL; END $$", true)]
    [InlineData("DELETE FROM public.organizations WHERE id IS NULL", false)]
    [InlineData("ALTER TABLE public.contacts ADD COLUMN x int; UPDATE public.contacts SET x = 1", false)]
    [InlineData("CREATE INDEX CONCURRENTLY i ON public.contacts (name)", false)]
    public void A_migration_that_can_remove_rows_from_the_table_is_told_apart(string sql, bool removes)
    {
        Assert.Equal(removes, Plan(sql).CanRemoveRowsFrom(DbObjectName.Parse("public.contacts")));
    }

    [Fact]
    public void Names_parse_as_postgresql_folds_them()
    {
        Assert.Equal(new DbObjectName("public", "contacts"), DbObjectName.Parse("Public.Contacts"));
        Assert.Equal(new DbObjectName("app", "My Table"), DbObjectName.Parse("app.\"My Table\""));
        Assert.Equal(new DbObjectName(null, "contacts"), DbObjectName.Parse("contacts"));
    }
}

public class FailSafeLockTests
{
    private static IReadOnlyList<StatementAnalysis> Plan(string sql) => StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql));

    private static readonly DbObjectName Contacts = new(null, "contacts");

    [Fact]
    public void A_transaction_block_reports_the_strongest_lock_held_so_far_and_names_the_classic_outage()
    {
        var plan = Plan("""
            BEGIN;
            ALTER TABLE contacts ADD COLUMN score int;
            UPDATE contacts SET score = 0;
            COMMIT;
            UPDATE contacts SET score = 1 WHERE id = 1;
            """);

        // The UPDATE holds the ALTER's ACCESS EXCLUSIVE, not only its own ROW EXCLUSIVE, and so does the COMMIT.
        Assert.Equal([new TableLock(Contacts, LockMode.AccessExclusive)], plan[2].Locks);
        Assert.Equal(LockMode.AccessExclusive, plan[3].StrongestLock);
        var held = Assert.Single(plan[2].Warnings, w => w.Rule == "lock-held-in-block");
        Assert.Equal(WarningLevel.Warning, held.Level);
        Assert.Contains("(taken at line 2)", held.Message);
        // Outside the block the UPDATE is an UPDATE again.
        Assert.Equal([new TableLock(Contacts, LockMode.RowExclusive)], plan[4].Locks);
        Assert.DoesNotContain(plan[4].Warnings, w => w.Rule == "lock-held-in-block");
    }

    [Fact]
    public void A_statement_whose_lock_is_unknown_is_access_exclusive_on_every_name_it_mentions_with_a_finding()
    {
        var plan = Plan("""
            ALTER DOMAIN positive ADD CONSTRAINT above_zero CHECK (VALUE > 0);
            COMMENT ON COLUMN contacts.email IS 'where we write';
            """);

        Assert.True(plan[0].LockUnknown);
        Assert.Equal([new TableLock(new(null, "positive"), LockMode.AccessExclusive), new TableLock(new(null, "above_zero"), LockMode.AccessExclusive)], plan[0].Locks);
        var finding = Assert.Single(plan[0].Warnings, w => w.Rule == "unknown-lock");
        Assert.Contains("treated as ACCESS EXCLUSIVE on positive, above_zero", finding.Message);
        // "contacts.email" may be schema.relation or relation.column: both readings are kept.
        Assert.Contains(new TableLock(Contacts, LockMode.AccessExclusive), plan[1].Locks);
    }

    [Fact]
    public void Columns_agree_with_their_warnings()
    {
        var plan = Plan("""
            DROP INDEX idx_a;
            DROP INDEX CONCURRENTLY idx_b;
            VACUUM FULL contacts;
            ALTER TABLE contacts ADD CONSTRAINT fk FOREIGN KEY (organization_id) REFERENCES organizations (id);
            DROP DATABASE production;
            GRANT EXECUTE ON FUNCTION f(int) TO app_user;
            SELECT count(*) FROM contacts;
            """);

        Assert.Equal([new TableLock(new(null, "idx_a"), LockMode.AccessExclusive)], plan[0].Locks);
        Assert.Equal([new TableLock(new(null, "idx_b"), LockMode.ShareUpdateExclusive)], plan[1].Locks);
        Assert.False(plan[1].CanRunInTransaction);
        Assert.True(plan[2].Rewrites);
        Assert.False(plan[2].CanRunInTransaction);
        Assert.True(plan[3].ScansUnderLock);
        Assert.Contains(plan[4].Warnings, w => w is { Rule: "drop-database", Level: WarningLevel.Error });
        Assert.False(plan[4].CanRunInTransaction);
        Assert.Empty(plan[5].Locks);
        Assert.False(plan[5].LockUnknown);
        Assert.Empty(plan[6].Locks);
    }
}
