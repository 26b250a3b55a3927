using ChatOps.Core.Scripts;

namespace ChatOps.Core.Tests;

public class SqlScriptTests
{
    private static IReadOnlyList<SqlStatement> Split(string sql) => SqlScript.Parse(sql).Statements;

    [Fact]
    public void Semicolons_inside_every_quoting_form_do_not_split()
    {
        var statements = Split("""
            SELECT 'a;b', 'it''s;';
            SELECT E'x\';y', e'\\';
            SELECT "we;ird""col" FROM t;
            SELECT $$ ; $$, $fn$ ; $$ ; $fn$;
            SELECT 1 -- trailing ; comment
            ;
            SELECT /* one ; /* nested ; */ still ; */ 2;
            """);

        Assert.Equal(6, statements.Count);
        Assert.Equal("SELECT 'a;b', 'it''s;'", statements[0].Text);
        Assert.Equal(@"SELECT E'x\';y', e'\\'", statements[1].Text);
        Assert.Equal("SELECT \"we;ird\"\"col\" FROM t", statements[2].Text);
        Assert.Equal("SELECT $$ ; $$, $fn$ ; $$ ; $fn$", statements[3].Text);
        Assert.Equal("SELECT 1", statements[4].Text);
        Assert.Equal("SELECT /* one ; /* nested ; */ still ; */ 2", statements[5].Text);
        Assert.Equal("we;ird\"col", statements[2].Tokens[1].Value);
    }

    [Fact]
    public void Dollar_quotes_nest_with_different_tags_and_keep_line_numbers()
    {
        var statements = Split("""
            -- header comment

            CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $outer$
            BEGIN
              EXECUTE $inner$ SELECT ';' ; $inner$;
              RAISE NOTICE 'done;';
            END $outer$;

            /* block
               comment */ SELECT $1::int;
            """);

        Assert.Equal(2, statements.Count);
        Assert.Equal(3, statements[0].Line);
        Assert.EndsWith("END $outer$", statements[0].Text);
        Assert.Equal(10, statements[1].Line);
        Assert.Equal("SELECT $1::int", statements[1].Text);
        Assert.Contains(statements[1].Tokens, t => t.Kind == SqlTokenKind.Parameter && t.Value == "$1");
    }

    [Fact]
    public void A_dollar_inside_an_identifier_is_not_a_quote()
    {
        var statements = Split("SELECT a$b$ FROM t; SELECT 2;");
        Assert.Equal(2, statements.Count);
        Assert.Equal("SELECT a$b$ FROM t", statements[0].Text);
    }

    [Fact]
    public void Transaction_blocks_are_recognised_and_numbered()
    {
        var statements = Split("""
            CREATE TABLE a (id int);
            BEGIN;
            ALTER TABLE a ADD COLUMN b int;
            SAVEPOINT s; ROLLBACK TO SAVEPOINT s;
            COMMIT;
            START TRANSACTION ISOLATION LEVEL SERIALIZABLE;
            UPDATE a SET b = 1;
            END;
            begin; select 1; rollback;
            """);

        Assert.Null(statements[0].Block);
        Assert.Equal(TransactionControl.Begin, statements[1].Transaction);
        Assert.All(statements.Skip(1).Take(5), s => Assert.Equal(1, s.Block));
        Assert.Equal(TransactionControl.None, statements[4].Transaction);   // ROLLBACK TO SAVEPOINT stays inside
        Assert.Equal(TransactionControl.Commit, statements[5].Transaction);
        Assert.Equal(TransactionControl.Begin, statements[6].Transaction);
        Assert.Equal(2, statements[7].Block);
        Assert.Equal(TransactionControl.Commit, statements[8].Transaction);   // END
        Assert.Equal(3, statements[9].Block);
        Assert.Equal(TransactionControl.Rollback, statements[11].Transaction);
    }

    [Fact]
    public void Concurrently_and_vacuum_must_run_alone()
    {
        var statements = Split("""
            CREATE INDEX CONCURRENTLY i ON t (a);
            DROP INDEX CONCURRENTLY IF EXISTS i;
            REINDEX INDEX CONCURRENTLY i;
            VACUUM (ANALYZE) t;
            CREATE INDEX i2 ON t (a);
            SELECT 'CONCURRENTLY';
            """);
        Assert.Equal([true, true, true, true, false, false], statements.Select(s => s.RequiresAutocommit));
        Assert.True(statements[3].IsVacuum);
        Assert.False(statements[3].IsConcurrently);
    }

    [Fact]
    public void Begin_atomic_function_bodies_keep_their_semicolons()
    {
        var statements = Split("""
            CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql
            BEGIN ATOMIC
              SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;
              SELECT 1;
            END;
            SELECT add(1, 2);
            """);
        Assert.Equal(2, statements.Count);
        Assert.EndsWith("END", statements[0].Text);
        Assert.Equal("SELECT add(1, 2)", statements[1].Text);
    }

    [Theory]
    [InlineData("SELECT 'open", "unterminated string", 1)]
    [InlineData("SELECT 1;\nSELECT $x$ never closed", "unterminated dollar-quoted string $x$", 2)]
    [InlineData("SELECT 1; /* /* */", "unterminated /* comment", 1)]
    [InlineData("SELECT \"open", "unterminated quoted identifier", 1)]
    [InlineData("SELECT 1;\n\nBEGIN;\nSELECT 2;", "never committed", 3)]
    public void Broken_scripts_are_refused_with_the_line(string sql, string message, int line)
    {
        var ex = Assert.Throws<SqlLexer.SqlSyntaxException>(() => SqlScript.Parse(sql));
        Assert.Contains(message, ex.Message);
        Assert.Equal(line, ex.Line);
    }

    [Fact]
    public void Statement_text_is_exactly_the_bytes_of_the_script()
    {
        const string sql = "  SELECT  1 ,\r\n\t2  ;\n";
        var statement = Assert.Single(Split(sql));
        Assert.Equal("SELECT  1 ,\r\n\t2", statement.Text);
        Assert.Equal("SELECT 1 , 2", statement.Summary());
    }
}
