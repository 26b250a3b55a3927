using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

/// <summary>A runbook file that cannot be used is refused naming the file, the line and what is wrong — never a stack trace.</summary>
public class RunbookFileErrorTests
{
    [Theory]
    [InlineData("[]", "r.runbook.json: line 1: a runbook file holds one JSON object such as { \"validations\": [ … ] }, not an array")]
    [InlineData("null", "r.runbook.json: line 1: a runbook file holds one JSON object such as { \"validations\": [ … ] }, not null")]
    [InlineData("\n  \"validations\"", "r.runbook.json: line 2: a runbook file holds one JSON object such as { \"validations\": [ … ] }, not a string")]
    [InlineData("", "r.runbook.json: line 1: not valid JSON")]
    [InlineData("{\n  \"validations\": [\n    { \"name\": \"v\", \"sql\": \"SELECT true, ''\" }\n  ,,]\n}", "r.runbook.json: line 4: not valid JSON")]
    [InlineData("{ \"table\": \"public.contacts\"\n", "r.runbook.json: line 2: not valid JSON")]
    public void Malformed_or_not_an_object_is_refused_with_the_line(string json, string expected)
    {
        var error = Assert.Throws<FormatException>(() => MigrationRunbook.Parse(json, "r.runbook.json"));
        Assert.StartsWith(expected, error.Message);
        Assert.DoesNotContain("LineNumber", error.Message);
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_its_line_and_path_in_the_file()
    {
        const string json = """
            {
              "$comment": "the benchmarks",
              "benchmarks": [
                { "name": "by org", "sql": "SELECT 1" },
                {
                  "name": 5,
                  "sql": "SELECT 2"
                }
              ]
            }
            """;
        var error = Assert.Throws<FormatException>(() => MigrationRunbook.Parse(json, "r.runbook.json"));
        Assert.Equal("r.runbook.json: line 6, $.benchmarks[1].name: expected a string", error.Message);
    }

    [Theory]
    [InlineData("{\n  \"thresholds\": {\n    \"blocked-sessions\": { \"for\": 30 }\n  }\n}", "r.runbook.json: line 3, $.thresholds.blocked-sessions.for: expected a duration such as \"00:00:30\"")]
    [InlineData("{\n  \"validations\": { \"name\": \"v\" }\n}", "r.runbook.json: line 2, $.validations: expected an array")]
    [InlineData("{\n  \"benchmarks\": [\n    { \"name\": \"b\", \"sql\": \"SELECT 1\", \"afterOnly\": \"yes\" }\n  ]\n}", "r.runbook.json: line 3, $.benchmarks[0].afterOnly: expected true or false")]
    [InlineData("{\n  \"validations\": [\n    { \"name\": \"v\", \"sql\": \"SELECT true, ''\", \"checklst\": \"x\" }\n  ]\n}", "'checklst' is not a runbook field")]
    public void Wrong_types_and_unknown_fields_name_the_line_and_what_was_expected(string json, string expected)
    {
        var error = Assert.Throws<FormatException>(() => MigrationRunbook.Parse(json, "r.runbook.json"));
        Assert.Contains(expected, error.Message);
        Assert.StartsWith("r.runbook.json: line ", error.Message);
    }
}
