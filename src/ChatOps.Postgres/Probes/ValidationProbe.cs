using ChatOps.Core.Runbooks;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>The outcome of one checklist validation; <see cref="QueryFailed"/> when its query raised an error.</summary>
public sealed record ValidationResult(string Name, bool Ok, string Detail, bool QueryFailed = false);

/// <summary>Runs a runbook's validation queries against the target, each on its own, each judged alone.</summary>
public static class ValidationProbe
{
    public static async Task<IReadOnlyList<ValidationResult>> RunAsync(string targetConnectionString, IEnumerable<ValidationQuery> validations, CancellationToken cancellationToken)
    {
        var results = new List<ValidationResult>();
        await using var connection = await TargetSession.OpenAsync(targetConnectionString, "chatops:validation", cancellationToken);
        foreach (var validation in validations)
        {
            try
            {
                await using var command = new NpgsqlCommand(validation.Sql, connection);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    results.Add(new ValidationResult(validation.Name, false, "the query returned no row"));
                    continue;
                }
                var ok = !reader.IsDBNull(0) && reader.GetBoolean(0);
                var detail = reader.FieldCount > 1 && !reader.IsDBNull(1) ? reader.GetValue(1).ToString() ?? "" : "";
                results.Add(new ValidationResult(validation.Name, ok, detail));
            }
            catch (PostgresException ex)
            {
                results.Add(new ValidationResult(validation.Name, false, $"query failed: {ex.SqlState} {ex.MessageText}", QueryFailed: true));
            }
        }
        return results;
    }
}
