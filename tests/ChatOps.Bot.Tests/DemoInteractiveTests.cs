using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary><c>demo --interactive</c>: after the story the local channel is a person's, until the end of input.</summary>
public class DemoInteractiveTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task After_the_story_the_channel_takes_commands_from_standard_input_and_the_end_of_input_ends_the_demo()
    {
        using var demo = ChatOpsProcess.Start(["demo", "--interactive", "--rows", "2000", "--connection", db.ServerConnectionString], keepInputOpen: true);
        await Poll.UntilAsync(() => Task.FromResult(demo.Output.Contains("🎬 The channel is yours", StringComparison.Ordinal)),
            "the story to end and hand the channel over", TimeSpan.FromMinutes(3), () => Task.FromResult(demo.Output + demo.Error));

        // A typed command is its own echo (the person sees what they typed): the bot's answers follow the hand-over.
        string After() => demo.Output[demo.Output.IndexOf("🎬 The channel is yours", StringComparison.Ordinal)..];
        demo.WriteLine("/migrate list");
        await Poll.UntilAsync(() => Task.FromResult(After().Contains("Migrations:", StringComparison.Ordinal) && After().Contains("D-1", StringComparison.Ordinal)),
            "the list, with the story's deployment", TimeSpan.FromMinutes(1), () => Task.FromResult(After()));
        demo.WriteLine("as dana");
        demo.WriteLine("/migrate history D-1");
        await Poll.UntilAsync(() => Task.FromResult(After().Contains("D-1 audit trail, most recent first", StringComparison.Ordinal)
                && After().Contains("approved (", StringComparison.Ordinal)),
            "the deployment's audit trail, asked for as dana", TimeSpan.FromMinutes(1), () => Task.FromResult(After()));
        demo.WriteLine("/migrate nonsense");
        await Poll.UntilAsync(() => Task.FromResult(After().Contains("is not a /migrate sub-command", StringComparison.Ordinal)),
            "an unknown sub-command answered as such", TimeSpan.FromMinutes(1), () => Task.FromResult(After()));

        demo.CloseInput();
        var result = await demo.WaitAsync();
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
    }
}
