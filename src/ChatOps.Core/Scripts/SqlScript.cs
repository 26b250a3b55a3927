namespace ChatOps.Core.Scripts;

/// <summary>A script split into statements, the way <c>psql</c> would send them.</summary>
public sealed class SqlScript
{
    private SqlScript(string text, IReadOnlyList<SqlStatement> statements)
    {
        Text = text;
        Statements = statements;
    }

    /// <summary>The script exactly as given.</summary>
    public string Text { get; }

    public IReadOnlyList<SqlStatement> Statements { get; }

    /// <summary>Splits <paramref name="text"/> on top-level semicolons, honouring quotes, comments and
    /// <c>BEGIN ATOMIC … END</c> function bodies. Throws <see cref="SqlLexer.SqlSyntaxException"/> for an
    /// unterminated quote or comment, or a transaction block that is never closed.</summary>
    public static SqlScript Parse(string text)
    {
        var tokens = SqlLexer.Tokenize(text);
        var statements = new List<SqlStatement>();
        var current = new List<SqlToken>();
        var atomicDepth = 0;
        int? openBlock = null;
        var blocks = 0;

        void Flush()
        {
            if (current.Count == 0) return;
            var first = current[0];
            var last = current[^1];
            var transaction = Classify(current);
            int? block = openBlock;
            switch (transaction)
            {
                case TransactionControl.Begin when openBlock is null:
                    block = openBlock = ++blocks;
                    break;
                case TransactionControl.Commit or TransactionControl.Rollback:
                    openBlock = null;
                    break;
            }
            statements.Add(new SqlStatement(statements.Count + 1, first.Line, text[first.Start..last.End], current.ToArray(), transaction, block));
            current.Clear();
        }

        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t.Kind == SqlTokenKind.Semicolon && atomicDepth == 0)
            {
                Flush();
                continue;
            }
            current.Add(t);
            // SQL-standard function bodies (PG14+) hold semicolons: BEGIN ATOMIC … END, with CASE … END inside.
            if (t.Is("ATOMIC") && current.Count > 1 && current[^2].Is("BEGIN") && IsRoutineDefinition(current))
                atomicDepth++;
            else if (atomicDepth > 0 && t.Is("CASE"))
                atomicDepth++;
            else if (atomicDepth > 0 && t.Is("END"))
                atomicDepth--;
        }
        Flush();

        if (openBlock is not null)
        {
            var begin = statements.First(s => s.Block == openBlock);
            throw new SqlLexer.SqlSyntaxException("transaction block opened here is never committed or rolled back", begin.Line);
        }
        return new SqlScript(text, statements);
    }

    private static bool IsRoutineDefinition(List<SqlToken> tokens) =>
        tokens[0].Is("CREATE") && tokens.Take(6).Any(t => t.Is("FUNCTION") || t.Is("PROCEDURE"));

    private static TransactionControl Classify(List<SqlToken> t)
    {
        var first = t[0];
        if (first.Is("BEGIN") || (first.Is("START") && t.Count > 1 && t[1].Is("TRANSACTION")))
            return TransactionControl.Begin;
        if (first.Is("COMMIT") || first.Is("END"))
            return t.Count > 1 && t[1].Is("PREPARED") ? TransactionControl.None : TransactionControl.Commit;
        if (first.Is("ROLLBACK") || first.Is("ABORT"))
            return t.Any(x => x.Is("TO") || x.Is("PREPARED")) ? TransactionControl.None : TransactionControl.Rollback;
        return TransactionControl.None;
    }
}
