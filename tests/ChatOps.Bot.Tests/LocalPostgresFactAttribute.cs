using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>A fact that needs a cluster of its own from local server binaries: skipped, saying why, where none are installed.</summary>
public sealed class LocalPostgresFactAttribute : FactAttribute
{
    public LocalPostgresFactAttribute()
    {
        if (PasswordProtectedPostgres.LocalPostgresAvailable() is { } reason)
            Skip = $"no local PostgreSQL server binaries ({reason})";
    }
}
