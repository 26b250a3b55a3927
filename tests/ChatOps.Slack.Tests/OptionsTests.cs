using ChatOps.Slack;

namespace ChatOps.Slack.Tests;

public sealed class OptionsTests
{
    private readonly SlackOptionsValidator _validator = new();

    private IReadOnlyList<string> Failures(SlackOptions options) => _validator.Validate(null, options).Failures?.ToList() ?? [];

    [Fact]
    public void Unset_is_off_and_valid()
    {
        var options = new SlackOptions();
        Assert.False(options.IsEnabled);
        Assert.Empty(Failures(options));
    }

    [Fact]
    public void A_complete_http_or_socket_mode_configuration_is_valid()
    {
        Assert.Empty(Failures(new SlackOptions { BotToken = "xoxb-1", SigningSecret = "s", ChannelId = "C1" }));
        var socket = new SlackOptions { BotToken = "xoxb-1", AppToken = "xapp-1", ChannelId = "C1" };
        Assert.Empty(Failures(socket));
        Assert.True(socket.UsesSocketMode);
    }

    [Fact]
    public void A_partial_configuration_names_every_missing_or_wrong_key_at_once()
    {
        var failures = Failures(new SlackOptions { BotToken = "xoxp-user", ApiBaseUrl = "slack.com/api" });

        Assert.Equal(4, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("Slack:BotToken does not start with xoxb-", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Slack:ChannelId is missing", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Slack:SigningSecret is missing", StringComparison.Ordinal) && f.Contains("Slack:AppToken", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Slack:ApiBaseUrl is 'slack.com/api'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_wrong_app_token_or_a_channel_name_is_named()
    {
        var failures = Failures(new SlackOptions { BotToken = "xoxb-1", AppToken = "xoxb-2", ChannelId = "#ops" });

        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("Slack:AppToken does not start with xapp-", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Slack:ChannelId is '#ops'", StringComparison.Ordinal));
    }

    [Fact]
    public void Other_slack_values_without_the_bot_token_are_a_partial_configuration()
    {
        var failure = Assert.Single(Failures(new SlackOptions { SigningSecret = "s", ChannelId = "C1" }));
        Assert.Contains("Slack:BotToken is missing while Slack:SigningSecret, Slack:ChannelId are set", failure);
    }

    [Fact]
    public void Secrets_never_appear_in_to_string()
    {
        var text = new SlackOptions { BotToken = "xoxb-secret-1", AppToken = "xapp-secret-2", SigningSecret = "secret-3", ChannelId = "C1" }.ToString();

        Assert.DoesNotContain("secret", text);
        Assert.Contains("BotToken = (set)", text);
        Assert.Contains("C1", text);
    }

    [Fact]
    public void The_api_base_url_resolves_methods_under_it_with_or_without_a_slash()
    {
        Assert.Equal("http://127.0.0.1:5/api/", new SlackOptions { ApiBaseUrl = "http://127.0.0.1:5/api" }.ApiBaseUri.AbsoluteUri);
        Assert.Equal(SlackOptions.DefaultApiBaseUrl, new SlackOptions().ApiBaseUri.AbsoluteUri);
    }
}
