using ChatOps.Core.Conversation;
using ChatOps.Discord.Interactions;

namespace ChatOps.Discord.Tests;

public sealed class DefinitionTests
{
    [Fact]
    public void Every_grammar_sub_command_is_defined_with_its_typed_options()
    {
        var definitions = MigrateCommandDefinition.SubCommands;
        Assert.Equal(MigrateGrammar.SubCommands.Select(s => s.Name), definitions.Select(d => d.Name));
        var start = definitions.Single(d => d.Name == "start");
        Assert.Equal([("migration", 3, true), ("target", 3, false), ("window", 5, false)], start.Options.Select(o => (o.Name, o.Type, o.Required)));
        var rollback = definitions.Single(d => d.Name == "rollback");
        Assert.Equal([("deployment", 3, false), ("confirm", 5, false)], rollback.Options.Select(o => (o.Name, o.Type, o.Required)));
        Assert.Empty(definitions.Single(d => d.Name == "list").Options);
    }
}
