using ChatOps.Core.Migrations;

namespace ChatOps.Core.Tests;

public class MigrationNameTests
{
    [Theory]
    [InlineData("20250803_add_analytics_tracking_optimized", "20250803_add_analytics_tracking_optimized")]
    [InlineData("20250803_add_analytics_tracking_optimized.sql", "20250803_add_analytics_tracking_optimized")]
    [InlineData("v1.2-fix", "v1.2-fix")]
    public void Plain_names_are_accepted(string name, string id)
    {
        Assert.True(MigrationName.TryNormalize(name, out var normalized, out var error), error);
        Assert.Equal(id, normalized);
    }

    [Theory]
    [InlineData("../secrets", "path separators")]
    [InlineData("..", "path separators")]
    [InlineData("a/b", "path separators")]
    [InlineData("a\\b", "path separators")]
    [InlineData("/etc/passwd", "path separators")]
    [InlineData("name with space", "only letters")]
    [InlineData("semi;colon", "only letters")]
    [InlineData("", "required")]
    [InlineData("x.rollback.sql", "rollback script")]
    public void Unsafe_names_are_refused_with_a_reason(string name, string reason)
    {
        Assert.False(MigrationName.TryNormalize(name, out _, out var error));
        Assert.Contains(reason, error);
    }
}
