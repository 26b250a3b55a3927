using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Testing;

namespace ChatOps.Core.Tests;

public class StatementAnalyzerTests
{
    private static IReadOnlyList<StatementAnalysis> Plan(string sql) => StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql));

    private static readonly DbObjectName Contacts = new("public", "contacts");

    [Fact]
    public void The_seed_migration_takes_only_brief_locks_and_fails_safe_on_its_dynamic_sql()
    {
        var plan = Plan(SeedMigration.Sql);

        // One note, for the application: the ADD COLUMN changes the table's row type. One finding: the re-run block
        // assembles its ALTER TABLE at run time ('ALTER TABLE public.contacts ' || array_to_string(actions, ', ')), so
        // its lock is unknown and it fails safe — ACCESS EXCLUSIVE on the table it names.
        var note = Assert.Single(plan.SelectMany(p => p.Warnings), w => w.Level == WarningLevel.Notice);
        Assert.Equal("add-column-row-type", note.Rule);
        Assert.Contains(note, plan[0].Warnings);
        var dynamic = Assert.Single(plan.SelectMany(p => p.Warnings), w => w.Level != WarningLevel.Notice);
        Assert.Equal("unknown-lock", dynamic.Rule);
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
        Assert.Equal([new TableLock(Contacts, LockMode.AccessExclusive)], restore.Locks);
        Assert.True(restore.LockUnknown);
        Assert.Contains(dynamic, restore.Warnings);
        // format('ALTER TABLE public.contacts VALIDATE CONSTRAINT %I', …): the placeholder names a constraint, not a relation.
        Assert.False(validate.LockUnknown);
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
        var plan = Plan("SECURITY LABEL FOR selinux ON COLUMN contacts.email IS 'system_u:object_r:sepgsql_table_t:s0'");

        Assert.True(plan[0].LockUnknown);
        // "contacts.email" may be schema.relation or relation.column: both readings are kept (the executor asks the server which exist).
        Assert.Contains(new TableLock(Contacts, LockMode.AccessExclusive), plan[0].Locks);
        Assert.Contains(new TableLock(new("contacts", "email"), LockMode.AccessExclusive), plan[0].Locks);
        var finding = Assert.Single(plan[0].Warnings, w => w.Rule == "unknown-lock");
        Assert.Contains("treated as ACCESS EXCLUSIVE on", finding.Message);
    }

    [Fact]
    public void A_transaction_block_without_commit_is_refused_before_any_analysis()
    {
        Assert.Throws<SqlLexer.SqlSyntaxException>(() => SqlScript.Parse("BEGIN; ALTER TABLE t ADD COLUMN c int"));
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

/// <summary>Each check of the README's table: its risky form raises it, its safe form does not.</summary>
public class LinterCheckTests
{
    private static IEnumerable<PlanWarning> Findings(string sql, bool strict = false) =>
        StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql), strict: strict).SelectMany(a => a.Warnings);

    [Theory]
    [InlineData("index-not-concurrently", "CREATE INDEX i ON t (a)", "CREATE INDEX CONCURRENTLY i ON t (a)", false)]
    [InlineData("drop-index-not-concurrently", "DROP INDEX i", "DROP INDEX CONCURRENTLY i", false)]
    [InlineData("volatile-default", "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()", "ALTER TABLE t ADD COLUMN c uuid", false)]
    [InlineData("add-column-rewrite", "ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY", "ALTER TABLE t ADD COLUMN c bigint", false)]
    [InlineData("add-column-rewrite", "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED", "ALTER TABLE t ADD COLUMN c int", false)]
    [InlineData("add-column-rewrite", "ALTER TABLE t ADD COLUMN c bigserial", "ALTER TABLE t ADD COLUMN c bigint", false)]
    [InlineData("adding-required-field", "ALTER TABLE t ADD COLUMN c int NOT NULL", "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0", false)]
    [InlineData("add-column-references", "ALTER TABLE t ADD COLUMN o_id int REFERENCES o (id)", "ALTER TABLE t ADD COLUMN o_id int", false)]
    [InlineData("constraint-builds-index", "ALTER TABLE t ADD COLUMN c int UNIQUE", "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i", false)]
    [InlineData("constraint-builds-index", "ALTER TABLE t ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&)", "ALTER TABLE t ADD CONSTRAINT u PRIMARY KEY USING INDEX i", false)]
    [InlineData("constraint-not-valid", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID", false)]
    [InlineData("constraint-not-valid", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES o (id)", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES o (id) NOT VALID", false)]
    [InlineData("set-not-null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL", "ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT a_nn; ALTER TABLE t ALTER COLUMN a SET NOT NULL", false)]
    [InlineData("column-type-change", "ALTER TABLE t ALTER COLUMN a TYPE bigint", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0", false)]
    [InlineData("drop-column", "ALTER TABLE t DROP COLUMN a", "ALTER TABLE t ADD COLUMN b int", false)]
    [InlineData("drop-data", "DROP TABLE t", "CREATE TABLE t (id bigint)", false)]
    [InlineData("drop-database", "DROP DATABASE d", "DROP TABLE IF EXISTS scratch_not_a_database", false)]
    [InlineData("rename-column", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t ADD COLUMN b int", false)]
    [InlineData("rename-table", "ALTER TABLE t RENAME TO u", "CREATE VIEW u AS SELECT * FROM t", false)]
    [InlineData("renaming-schema", "ALTER SCHEMA app RENAME TO app2", "CREATE SCHEMA app2", false)]
    [InlineData("renaming-enum-value", "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", "ALTER TYPE mood ADD VALUE 'blue' AFTER 'sad'", false)]
    [InlineData("require-enum-value-ordering", "ALTER TYPE mood ADD VALUE 'blue'", "ALTER TYPE mood ADD VALUE 'blue' BEFORE 'sad'", false)]
    [InlineData("ban-drop-not-null", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT", false)]
    [InlineData("prefer-jsonb", "ALTER TABLE t ADD COLUMN doc json", "ALTER TABLE t ADD COLUMN doc jsonb", false)]
    [InlineData("vacuum-full", "VACUUM FULL t", "VACUUM t", false)]
    [InlineData("cluster", "CLUSTER t USING t_pkey", "ALTER TABLE t CLUSTER ON t_pkey", false)]
    [InlineData("reindex-not-concurrently", "REINDEX TABLE t", "REINDEX TABLE CONCURRENTLY t", false)]
    [InlineData("detach-partition-not-concurrently", "ALTER TABLE p DETACH PARTITION p1", "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", false)]
    [InlineData("attach-partition-scan", "ALTER TABLE p ATTACH PARTITION p2 FOR VALUES FROM (0) TO (10)", "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", false)]
    [InlineData("set-logged", "ALTER TABLE t SET LOGGED", "ALTER TABLE t SET (fillfactor = 70)", false)]
    [InlineData("refresh-not-concurrently", "REFRESH MATERIALIZED VIEW m", "REFRESH MATERIALIZED VIEW CONCURRENTLY m", false)]
    [InlineData("concurrently-in-transaction", "BEGIN; CREATE INDEX CONCURRENTLY i ON t (a); COMMIT", "CREATE INDEX CONCURRENTLY i ON t (a)", false)]
    [InlineData("lock-held-in-block", "BEGIN; ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 0; COMMIT", "ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 0 WHERE id < 1000", false)]
    [InlineData("unbatched-dml", "UPDATE t SET c = 0", "UPDATE t SET c = 0 WHERE id BETWEEN 1 AND 1000", false)]
    [InlineData("unnamed-concurrent-index", "CREATE INDEX CONCURRENTLY ON t (a)", "CREATE INDEX CONCURRENTLY t_a_idx ON t (a)", false)]
    [InlineData("ban-truncate-cascade", "TRUNCATE t CASCADE", "TRUNCATE t", false)]
    [InlineData("ban-create-domain-with-constraint", "CREATE DOMAIN pos AS int CHECK (VALUE > 0)", "CREATE DOMAIN pos AS int", false)]
    [InlineData("ban-alter-domain-with-add-constraint", "ALTER DOMAIN pos ADD CONSTRAINT p CHECK (VALUE > 0)", "ALTER DOMAIN pos OWNER TO app", false)]
    [InlineData("identifier-too-long", "CREATE INDEX CONCURRENTLY index_with_a_name_that_is_far_longer_than_what_postgresql_keeps_x ON t (a)", "CREATE INDEX CONCURRENTLY i ON t (a)", false)]
    [InlineData("unknown-lock", "SECURITY LABEL ON TABLE t IS 'x'", "COMMENT ON TABLE t IS 'x'", false)]
    [InlineData("ban-char-field", "CREATE TABLE t (code char(3))", "CREATE TABLE t (code text)", true)]
    [InlineData("prefer-text-field", "ALTER TABLE t ADD COLUMN name varchar(100)", "ALTER TABLE t ADD COLUMN name text", true)]
    [InlineData("prefer-bigint-over-int", "CREATE TABLE t (id int)", "CREATE TABLE t (id bigint)", true)]
    [InlineData("prefer-bigint-over-smallint", "CREATE TABLE t (n smallint)", "CREATE TABLE t (n bigint)", true)]
    [InlineData("prefer-timestamptz", "ALTER TABLE t ADD COLUMN at timestamp", "ALTER TABLE t ADD COLUMN at timestamptz", true)]
    [InlineData("prefer-identity", "CREATE TABLE t (id bigserial)", "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY)", true)]
    [InlineData("index-columns", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a, b, c, d)", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a, b)", true)]
    [InlineData("prefer-robust-stmts", "CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)", true)]
    public void The_risky_form_raises_the_check_and_the_safe_form_does_not(string rule, string risky, string safe, bool strict)
    {
        Assert.Contains(Findings(risky, strict), w => w.Rule == rule);
        Assert.DoesNotContain(Findings(safe, strict), w => w.Rule == rule);
        if (strict)
            Assert.DoesNotContain(Findings(risky, strict: false), w => w.Rule == rule);   // style rules only when asked for
    }

    [Fact]
    public void A_type_change_the_catalog_shows_to_be_a_widening_is_no_rewrite()
    {
        var facts = new CatalogFacts
        {
            Visible = new Dictionary<string, DbObjectName> { ["t"] = new("public", "t") },
            Relations = new HashSet<DbObjectName> { new("public", "t") },
            ColumnTypes = new Dictionary<string, string>
            {
                ["public.t.v"] = "character varying(100)", ["public.t.n"] = "numeric(10,2)", ["public.t.s"] = "text",
            },
        };
        bool Rewrites(string sql) => StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql), facts).Single().Rewrites;

        Assert.False(Rewrites("ALTER TABLE t ALTER COLUMN v TYPE varchar(255)"));
        Assert.False(Rewrites("ALTER TABLE t ALTER COLUMN v TYPE text"));
        Assert.False(Rewrites("ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2)"));
        Assert.True(Rewrites("ALTER TABLE t ALTER COLUMN v TYPE varchar(50)"));
        Assert.True(Rewrites("ALTER TABLE t ALTER COLUMN n TYPE numeric(12,3)"));
        Assert.True(Rewrites("ALTER TABLE t ALTER COLUMN s TYPE varchar(10)"));
        // Without the catalog the old type is unknown: the safe side.
        Assert.True(StatementAnalyzer.AnalyzeScript(SqlScript.Parse("ALTER TABLE t ALTER COLUMN v TYPE varchar(255)")).Single().Rewrites);
    }
}
