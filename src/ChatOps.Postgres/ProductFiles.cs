namespace ChatOps.Postgres;

/// <summary>
/// Finds the files that ship with the bot (<c>appsettings.json</c>, <c>sql/</c>): the repository root
/// when running from a checkout (<c>dotnet run</c>, tests), otherwise the folder beside the binary,
/// where the build copies them.
/// </summary>
public static class ProductFiles
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The folder that holds <c>appsettings.json</c> and <c>sql/</c>.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>A path under <see cref="Root"/>; absolute paths are returned as they are.</summary>
    public static string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Root, path));

    /// <summary>The text of a file under <c>sql/</c>, e.g. <c>Sql("demo/schema.sql")</c>.</summary>
    public static Task<string> ReadSqlAsync(string relativePath, CancellationToken cancellationToken) =>
        File.ReadAllTextAsync(Path.Combine(Root, "sql", relativePath), cancellationToken);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatOps.sln")) && Directory.Exists(Path.Combine(dir.FullName, "sql")))
                return dir.FullName;
        }
        return AppContext.BaseDirectory;
    }
}
