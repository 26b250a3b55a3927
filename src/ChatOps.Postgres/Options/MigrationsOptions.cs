using Microsoft.Extensions.Options;

namespace ChatOps.Postgres.Options;

/// <summary><c>ChatOps:Migrations</c>: where migration files are read from.</summary>
public sealed class MigrationsOptions
{
    public const string Section = "ChatOps:Migrations";

    /// <summary>Relative to the product root (the repository, or beside the binary); an absolute path is taken as is.</summary>
    public string Directory { get; set; } = "sql/migrations";

    public string ResolvedDirectory => ProductFiles.Resolve(Directory);
}

public sealed class MigrationsOptionsValidator : IValidateOptions<MigrationsOptions>
{
    public ValidateOptionsResult Validate(string? name, MigrationsOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Directory))
            return ValidateOptionsResult.Fail($"{MigrationsOptions.Section}:Directory is empty; set it to the folder holding <id>.sql files (default sql/migrations).");
        if (!System.IO.Directory.Exists(options.ResolvedDirectory))
            return ValidateOptionsResult.Fail($"{MigrationsOptions.Section}:Directory '{options.ResolvedDirectory}' does not exist; create it or point the setting at the folder holding <id>.sql files.");
        return ValidateOptionsResult.Success;
    }
}
