namespace ChatOps.Discord.Tests;

public sealed class OptionsTests
{
    private static readonly DiscordOptionsValidator Validator = new();

    [Fact]
    public void Without_a_token_and_nothing_else_Discord_is_off_and_valid()
    {
        var options = new DiscordOptions();
        Assert.False(options.Enabled);
        Assert.True(Validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void A_token_alone_names_every_missing_key_with_how_to_fix_it()
    {
        var result = Validator.Validate(null, new DiscordOptions { BotToken = "secret-token" });
        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        foreach (var key in new[] { "ApplicationId", "GuildId", "ChannelId", "PublicKey" })
            Assert.Contains(failures, f => f.Contains($"Discord:{key}", StringComparison.Ordinal) && f.Contains($"Discord__{key}", StringComparison.Ordinal));
        Assert.Equal(4, failures.Count);
    }

    [Fact]
    public void Settings_without_a_token_are_a_partial_configuration()
    {
        var result = Validator.Validate(null, new DiscordOptions { GuildId = "200000000000000001" });
        Assert.True(result.Failed);
        Assert.Contains("Discord:BotToken", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_values_are_named()
    {
        var result = Validator.Validate(null, new DiscordOptions
        {
            BotToken = "t", ApplicationId = "app", PublicKey = "xyz", GuildId = "1", ChannelId = "200000000000000002",
            ApiBaseUrl = "not a url", GatewayUrl = "http://example.com",
        });
        var failures = result.Failures!.ToList();
        Assert.Equal(5, failures.Count);
    }

    [Fact]
    public void For_command_registration_only_the_token_application_and_guild_are_required_the_rest_is_checked_when_set()
    {
        var registering = new DiscordOptionsValidator { ForCommandRegistration = true };
        Assert.True(registering.Validate(null, new DiscordOptions { BotToken = "t", ApplicationId = "100000000000000002", GuildId = "200000000000000001" }).Succeeded);

        var nothing = registering.Validate(null, new DiscordOptions()).Failures!.ToList();
        Assert.Equal(3, nothing.Count);
        foreach (var key in new[] { "BotToken", "ApplicationId", "GuildId" })
            Assert.Contains(nothing, f => f.StartsWith($"Discord:{key} is missing (register-discord-commands needs it)", StringComparison.Ordinal));

        var malformed = registering.Validate(null, new DiscordOptions
        {
            BotToken = "t", ApplicationId = "100000000000000002", GuildId = "200000000000000001", ChannelId = "general", PublicKey = "xyz",
        }).Failures!.ToList();
        Assert.Equal(2, malformed.Count);
    }

    [Fact]
    public void The_token_is_never_in_ToString()
    {
        var options = new DiscordOptions { BotToken = "very-secret-token", ApplicationId = "1" };
        Assert.DoesNotContain("very-secret-token", options.ToString(), StringComparison.Ordinal);
    }
}
