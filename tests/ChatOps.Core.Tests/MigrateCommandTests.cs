using ChatOps.Core.Conversation;

namespace ChatOps.Core.Tests;

public class DeploymentIdTests
{
    [Theory]
    [InlineData("D-3", 3)]
    [InlineData("d-3", 3)]
    [InlineData("D-03", 3)]
    [InlineData("D-2147483647", int.MaxValue)]
    public void Ids_are_read_and_normalised(string text, int number)
    {
        Assert.True(DeploymentId.TryParse(text, out var id));
        Assert.Equal(number, id.Number);
        Assert.Equal($"D-{number}", id.ToString());
    }

    [Theory]
    [InlineData("D-0")]
    [InlineData("D--3")]
    [InlineData("D-+3")]
    [InlineData("D-")]
    [InlineData("D3")]
    [InlineData("3")]
    [InlineData("E-3")]
    [InlineData("D-3x")]
    [InlineData("D-2147483648")]
    [InlineData("D-٣")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_is_refused(string? text) => Assert.False(DeploymentId.TryParse(text, out _));

    [Fact]
    public void A_deployment_number_is_positive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeploymentId(0));
}

public class EditDistanceTests
{
    [Theory]
    [InlineData("", "", 0)]
    [InlineData("start", "start", 0)]
    [InlineData("", "abc", 3)]
    [InlineData("strat", "start", 2)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("abort", "abrot", 2)]
    public void Distances_are_levenshtein(string a, string b, int distance)
    {
        Assert.Equal(distance, EditDistance.Between(a, b));
        Assert.Equal(distance, EditDistance.Between(b, a));
    }
}
