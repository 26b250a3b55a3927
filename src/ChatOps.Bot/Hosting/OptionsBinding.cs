using System.Globalization;
using System.Reflection;

namespace ChatOps.Bot.Hosting;

/// <summary>
/// What the configuration binder would stumble on, found setting by setting: the binder throws at the first value it
/// cannot convert, and a person fixing a configuration wants the whole list (with the format and the default).
/// </summary>
public static class OptionsBinding
{
    /// <summary>Every setting in <paramref name="section"/> that does not convert to its property of <typeparamref name="T"/>,
    /// and every one that is no property at all (a typo would otherwise be ignored silently). <paramref name="bound"/> gets
    /// the settings that do convert, so the validator can still judge them.</summary>
    public static IReadOnlyList<string> Problems<T>(IConfiguration configuration, string section, out T bound) where T : class, new()
    {
        var defaults = new T();
        bound = new T();
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        foreach (var setting in configuration.GetSection(section).GetChildren())
        {
            if (!properties.TryGetValue(setting.Key, out var property))
            {
                problems.Add($"{section}:{setting.Key} is not a setting; the settings of {section} are {string.Join(", ", properties.Keys)}.");
                continue;
            }
            try
            {
                property.SetValue(bound, setting.Get(property.PropertyType));
            }
            catch (InvalidOperationException)
            {
                problems.Add($"{section}:{property.Name} is '{setting.Value}', not {Expected(property.PropertyType)} " +
                             $"(default {Show(property.GetValue(defaults))}).");
            }
        }
        return problems;
    }

    private static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(TimeSpan) => "a duration: write hh:mm:ss with optional .fff, e.g. 00:00:00.200 or 01:00:00",
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(double) => "a number",
        var t when t == typeof(bool) => "true or false",
        var t => $"a {t.Name}",
    };

    private static string Show(object? value) => value switch
    {
        null => "unset",
        TimeSpan t when t.Milliseconds != 0 => t.ToString(@"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture),
        TimeSpan t => t.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "unset",
    };
}
