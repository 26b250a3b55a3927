using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatOps.Core.Runbooks;

/// <summary>Changes to a default threshold rule: its value, its window, or whether it triggers a rollback.</summary>
public sealed record ThresholdOverride(double? Value = null, TimeSpan? For = null, int? Rounds = null, bool? RollbackTrigger = null);

/// <summary>A query timed before and after the migration; <see cref="AfterOnly"/> ones need what the migration adds.</summary>
public sealed record BenchmarkQuery(string Name, string Sql, bool AfterOnly = false);

/// <summary>A checklist validation: a query returning one row <c>(ok boolean, detail text)</c>.</summary>
public sealed record ValidationQuery(string Name, string Sql, string? Checklist = null);

/// <summary>How to measure row-level security overhead: <see cref="Sql"/> as <see cref="Role"/> (with the
/// application user from <see cref="User"/> set by <see cref="SetUser"/>) minus the same as the table owner.
/// <see cref="SqlBefore"/>, when given, is measured before the migration instead (the probe query may need its columns).</summary>
public sealed record RlsProbe(string Role, string User, string SetUser, string Sql, string? SqlBefore = null);

/// <summary>
/// What <c>&lt;migration&gt;.runbook.json</c> says about one migration: its validation, benchmark, RLS and
/// index-usage queries. Everything it leaves out comes from the built-in checklist runbook.
/// </summary>
public sealed record MigrationRunbook
{
    public string? Table { get; init; }

    /// <summary>A query whose first row gives the benchmark parameters <c>$1</c>, <c>$2</c>, ….</summary>
    public string? Parameters { get; init; }

    public IReadOnlyList<BenchmarkQuery> Benchmarks { get; init; } = [];
    public IReadOnlyList<string> IndexUsage { get; init; } = [];
    public RlsProbe? RlsProbe { get; init; }
    public IReadOnlyList<ValidationQuery> Validations { get; init; } = [];

    /// <summary>A query listing the rows that exist, by key (e.g. <c>SELECT id FROM public.contacts</c>). Its result in one
    /// snapshot at baseline is kept, and after validation the same query shows which of those rows are gone — a snapshot,
    /// never a clock, decides what existed (a row's <c>now()</c> is its transaction's start, not its commit).</summary>
    public string? RowsAtBaseline { get; init; }

    /// <summary>Overrides of the default threshold rules, by rule name.</summary>
    public IReadOnlyDictionary<string, ThresholdOverride> Thresholds { get; init; } = new Dictionary<string, ThresholdOverride>();

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>An empty runbook: every default applies.</summary>
    public static MigrationRunbook Empty { get; } = new();

    /// <summary>Parses a runbook file's text; a bad file gets an error naming <paramref name="source"/> and what is wrong.</summary>
    public static MigrationRunbook Parse(string json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            // "$comment" is for people; drop it before the strict binding below.
            var stripped = JsonSerializer.Serialize(document.RootElement.EnumerateObject()
                .Where(p => !p.Name.StartsWith('$'))
                .ToDictionary(p => p.Name, p => p.Value));
            var runbook = JsonSerializer.Deserialize<MigrationRunbook>(stripped, Json) ?? Empty;
            var problems = runbook.Problems().ToList();
            if (problems.Count > 0)
                throw new FormatException($"{source}: {string.Join("; ", problems)}");
            return runbook;
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{source}: not a valid runbook file: {ex.Message}", ex);
        }
    }

    private IEnumerable<string> Problems()
    {
        foreach (var b in Benchmarks.Where(b => string.IsNullOrWhiteSpace(b.Name) || string.IsNullOrWhiteSpace(b.Sql)))
            yield return $"benchmark '{b.Name}' needs a name and sql";
        foreach (var v in Validations.Where(v => string.IsNullOrWhiteSpace(v.Name) || string.IsNullOrWhiteSpace(v.Sql)))
            yield return $"validation '{v.Name}' needs a name and sql";
        foreach (var dup in Validations.GroupBy(v => v.Name).Where(g => g.Count() > 1))
            yield return $"validation '{dup.Key}' appears twice";
        if (RlsProbe is { } p && (string.IsNullOrWhiteSpace(p.Role) || string.IsNullOrWhiteSpace(p.Sql)))
            yield return "rlsProbe needs role and sql";
        if (RowsAtBaseline is { } rows && Scripts.SqlLexer.Tokenize(rows).Any(t => t.Kind == Scripts.SqlTokenKind.Parameter))
            yield return "rowsAtBaseline lists the rows' keys and takes no parameters (e.g. \"SELECT id FROM public.contacts\"): " +
                         "the rows that existed at baseline are those one snapshot saw, not those created before a time";
        if (Table is { } table)
        {
            string? error = null;
            try { Planning.DbObjectName.Parse(table); }
            catch (FormatException ex) { error = ex.Message; }
            if (error is not null) yield return $"table: {error}";
        }
        var rules = Monitoring.ThresholdRule.ChecklistRollbackTriggers.ToDictionary(r => r.Name);
        foreach (var (name, o) in Thresholds)
        {
            if (!rules.TryGetValue(name, out var rule))
            {
                yield return $"thresholds: unknown rule '{name}' (known: {string.Join(", ", rules.Keys)})";
                continue;
            }
            if (o.Value is { } value && (value < 0 || double.IsNaN(value) || double.IsInfinity(value)))
                yield return $"thresholds.{name}.value is {value}: it must be a number, 0 or more";
            if (o.For is { } window && window <= TimeSpan.Zero)
                yield return $"thresholds.{name}.for is {window}: it must be a positive duration such as \"00:00:30\"";
            if (o.For is not null && rule.For is null)
                yield return $"thresholds.{name}.for: this rule counts consecutive readings; set 'rounds' instead";
            if (o.Rounds is { } rounds && rounds < 1)
                yield return $"thresholds.{name}.rounds is {rounds}: it must be 1 or more";
            if (o.Rounds is not null && rule.Rounds is null)
                yield return $"thresholds.{name}.rounds: this rule holds for a duration; set 'for' instead";
        }
    }

    /// <summary>The default rules with this runbook's overrides applied.</summary>
    public IReadOnlyList<Monitoring.ThresholdRule> Rules()
    {
        return Monitoring.ThresholdRule.ChecklistRollbackTriggers.Select(rule =>
            Thresholds.TryGetValue(rule.Name, out var o)
                ? rule with
                {
                    Value = o.Value ?? rule.Value,
                    For = o.For ?? rule.For,
                    Rounds = o.Rounds ?? rule.Rounds,
                    Action = o.RollbackTrigger is { } t ? (t ? Monitoring.BreachAction.RollbackTrigger : Monitoring.BreachAction.Alert) : rule.Action,
                }
                : rule).ToList();
    }
}
