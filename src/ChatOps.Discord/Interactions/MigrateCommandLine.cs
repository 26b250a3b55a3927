using System.Text;
using System.Text.Json;

namespace ChatOps.Discord.Interactions;

/// <summary>
/// Rebuilds the command line the grammar reads from a <c>/migrate</c> interaction's <c>data</c>:
/// <c>{name: migrate, options: [{type: 1, name: start, options: [{name: migration, value: add_index}, {name: target, value: staging}]}]}</c>
/// becomes <c>/migrate start add_index --target staging</c>. Positional values first, then flags; a false boolean is left out.
/// </summary>
public static class MigrateCommandLine
{
    /// <summary>The command line, or null when <paramref name="data"/> is not a <c>/migrate</c> command.</summary>
    public static string? FromInteractionData(JsonElement data)
    {
        if (data.ValueKind != JsonValueKind.Object ||
            !data.TryGetProperty("name", out var name) || name.GetString() != MigrateCommandDefinition.Name)
            return null;
        var line = new StringBuilder("/migrate");
        if (!data.TryGetProperty("options", out var options) || options.ValueKind != JsonValueKind.Array || options.GetArrayLength() == 0)
            return line.ToString();

        var sub = options[0];
        var subName = sub.GetProperty("name").GetString() ?? "";
        line.Append(' ').Append(subName);
        var definition = MigrateCommandDefinition.SubCommands.FirstOrDefault(s => s.Name == subName);
        if (!sub.TryGetProperty("options", out var given) || given.ValueKind != JsonValueKind.Array)
            return line.ToString();

        var values = given.EnumerateArray()
            .Where(o => o.TryGetProperty("name", out _) && o.TryGetProperty("value", out _))
            .ToDictionary(o => o.GetProperty("name").GetString() ?? "", o => o.GetProperty("value"));
        var known = definition?.Options ?? [];
        foreach (var option in known.Where(o => o.Flag is null))
            if (values.TryGetValue(option.Name, out var value))
                line.Append(' ').Append(Text(value));
        foreach (var option in known.Where(o => o.Flag is not null))
        {
            if (!values.TryGetValue(option.Name, out var value))
                continue;
            if (value.ValueKind == JsonValueKind.True)
                line.Append(' ').Append(option.Flag);
            else if (value.ValueKind is not JsonValueKind.False)
                line.Append(' ').Append(option.Flag).Append(' ').Append(Text(value));
        }
        return line.ToString();
    }

    private static string Text(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()!.Trim() : value.GetRawText();
}
