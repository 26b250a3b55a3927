using System.Text.RegularExpressions;

namespace ChatOps.Core.Migrations;

/// <summary>
/// A migration's id as people type it (<c>20250803_add_analytics_tracking_optimized</c>, optionally with
/// <c>.sql</c>). Checked before any file is touched, so a name can never reach outside the migrations folder.
/// </summary>
public static partial class MigrationName
{
    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex Allowed();

    /// <summary>The id without <c>.sql</c>, or an error saying why the name is refused.</summary>
    public static bool TryNormalize(string? name, out string id, out string error)
    {
        id = "";
        if (string.IsNullOrWhiteSpace(name))
        {
            error = "a migration name is required";
            return false;
        }
        if (name.Contains('/') || name.Contains('\\') || name.Contains(".."))
        {
            error = $"'{name}' is not a migration name: path separators and '..' are not allowed";
            return false;
        }
        if (!Allowed().IsMatch(name))
        {
            error = $"'{name}' is not a migration name: use only letters, digits, '_', '.' and '-'";
            return false;
        }
        id = name.EndsWith(".sql", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;
        if (id.EndsWith(".rollback", StringComparison.OrdinalIgnoreCase) || id.Length == 0)
        {
            error = $"'{name}' names a rollback script, not a migration";
            return false;
        }
        error = "";
        return true;
    }
}
