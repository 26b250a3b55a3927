using System.Text;
using ChatOps.Testing.FakeSlack;
using Microsoft.Extensions.Time.Testing;

namespace ChatOps.Slack.Tests;

public sealed class VerifierTests
{
    private const string Secret = "8f742231b10e8888abcd99yyyzzz85a5";
    private static readonly DateTimeOffset Now = new(2025, 8, 3, 2, 0, 0, TimeSpan.Zero);
    private readonly SlackRequestVerifier _verifier = new(Secret, new FakeTimeProvider(Now));

    private static string At(TimeSpan offset) => (Now + offset).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Slacks_documented_example_verifies()
    {
        // Slack's documentation example (secret, timestamp and body from docs.slack.dev/authentication/verifying-requests-from-slack).
        const string body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        var verifier = new SlackRequestVerifier(Secret, new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1531420618)));

        Assert.Null(verifier.Problem("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void The_window_is_five_minutes_either_way()
    {
        var body = "payload"u8.ToArray();
        foreach (var offset in new[] { TimeSpan.FromSeconds(-300), TimeSpan.Zero, TimeSpan.FromSeconds(300) })
            Assert.Null(_verifier.Problem(At(offset), SlackRequests.Signature(Secret, At(offset), "payload"), body));
        foreach (var offset in new[] { TimeSpan.FromSeconds(-301), TimeSpan.FromSeconds(301) })
            Assert.NotNull(_verifier.Problem(At(offset), SlackRequests.Signature(Secret, At(offset), "payload"), body));
    }

    [Fact]
    public void The_adapters_signature_matches_an_independent_one()
    {
        var timestamp = At(TimeSpan.Zero);
        Assert.Equal(SlackRequests.Signature(Secret, timestamp, "a=b&c=d"), SlackRequestVerifier.Sign(Secret, timestamp, "a=b&c=d"u8));
    }

    [Theory]
    [InlineData(null, "v0=00")]
    [InlineData("", "v0=00")]
    [InlineData("1754186400", null)]
    [InlineData("not-a-number", "v0=00")]
    [InlineData("1754186400", "v1=00")]
    [InlineData("1754186400", "v0=zz")]
    [InlineData("1754186400", "v0=0000")]
    public void Malformed_headers_are_named_without_the_secret(string? timestamp, string? signature)
    {
        var problem = _verifier.Problem(timestamp, signature, "x"u8);
        Assert.NotNull(problem);
        Assert.DoesNotContain(Secret, problem);
    }
}
