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

    /// <summary>Parses a runbook file's text; a bad file gets an error naming <paramref name="source"/>, the line and
    /// what is wrong: malformed JSON, anything but an object at the top (<c>[]</c>, <c>null</c>), a value of the wrong type,
    /// an unknown field, a setting out of range.</summary>
    /// <exception cref="FormatException">The file cannot be used; the message starts with <paramref name="source"/>.</exception>
    public static MigrationRunbook Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{source}: line {(ex.LineNumber ?? 0) + 1}: not valid JSON: {WithoutPosition(ex.Message)}", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{source}: line {JsonSourceLines.LineOf(json, "$")}: a runbook file holds one JSON object " +
                                          $"such as {{ \"validations\": [ … ] }}, not {Kind(root.ValueKind)}");
            MigrationRunbook runbook;
            try
            {
                // "$comment" is for people; drop it before the strict binding below (paths stay those of the file).
                var stripped = JsonSerializer.Serialize(root.EnumerateObject()
                    .Where(p => !p.Name.StartsWith('$'))
                    .ToDictionary(p => p.Name, p => p.Value));
                runbook = JsonSerializer.Deserialize<MigrationRunbook>(stripped, Json) ?? Empty;
            }
            catch (JsonException ex)
            {
                var path = ex.Path ?? "$";
                throw new FormatException($"{source}: line {JsonSourceLines.LineOf(json, path)}, {path}: {Reason(ex.Message, path)}", ex);
            }
            var problems = runbook.Problems().ToList();
            if (problems.Count > 0)
                throw new FormatException($"{source}: {string.Join("; ", problems)}");
            return runbook;
        }
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => kind.ToString(),
    };

    /// <summary>System.Text.Json's message in the file's words: "expected a string", "'x' is not a runbook field".</summary>
    private static string Reason(string message, string path)
    {
        message = WithoutPosition(message);
        var unmapped = System.Text.RegularExpressions.Regex.Match(message, @"The JSON property '(?<name>.*?)' could not be mapped");
        if (unmapped.Success)
            return $"'{unmapped.Groups["name"].Value}' is not a runbook field";
        // The message names the record being built, not the field: the field's type comes from the path.
        if (message.Contains("could not be converted", StringComparison.Ordinal) && TypeAt(path) is { } type)
            return $"expected {Expected(type)}";
        return message;
    }

    private static Type? TypeAt(string path)
    {
        Type? type = typeof(MigrationRunbook);
        foreach (var segment in JsonSourceLines.Segments(path))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            var dictionary = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>));
            var list = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
            type = segment switch
            {
                int when list is not null && type != typeof(string) => list.GetGenericArguments()[0],
                string when dictionary is not null => dictionary.GetGenericArguments()[1],
                string name => type.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType,
                _ => null,
            };
            if (type is null)
                return null;
        }
        return type;
    }

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(int) || type == typeof(long) || type == typeof(double)) return "a number";
        if (type == typeof(TimeSpan)) return "a duration such as \"00:00:30\"";
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)) return "an object";
        if (type.IsArray || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))) return "an array";
        return "an object";
    }

    private static string WithoutPosition(string message) =>
        message.IndexOf(" Path:", StringComparison.Ordinal) is var p and >= 0 ? message[..p]
        : message.IndexOf(" LineNumber:", StringComparison.Ordinal) is var l and >= 0 ? message[..l]
        : message;

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
