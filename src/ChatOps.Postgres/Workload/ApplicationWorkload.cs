using System.Diagnostics;
using Npgsql;

namespace ChatOps.Postgres.Workload;

/// <summary>What the application workload did while it ran.</summary>
public sealed record WorkloadSummary(long Transactions, long Failures, TimeSpan MaxLatency, string? LastError);

/// <summary>
/// A light stand-in for the application on the demo schema: organisation searches, point reads, updates and
/// inserts on <c>contacts</c>, from a few sessions named <c>demo-app</c> (not <c>chatops:</c>: monitoring counts them).
/// </summary>
public sealed class ApplicationWorkload(string connectionString, int clients = 4, TimeSpan? pause = null) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = [];
    private long _transactions;
    private long _failures;
    private long _maxLatencyTicks;
    private string? _lastError;

    /// <summary>The sessions' <c>application_name</c>.</summary>
    public const string ApplicationName = "demo-app";

    public void Start()
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = ApplicationName, Pooling = false }.ConnectionString;
        for (var i = 0; i < clients; i++)
        {
            var client = i;
            _clients.Add(Task.Run(() => ClientAsync(cs, client, _stop.Token)));
        }
    }

    public WorkloadSummary Summary => new(Interlocked.Read(ref _transactions), Interlocked.Read(ref _failures),
        TimeSpan.FromTicks(Interlocked.Read(ref _maxLatencyTicks)), _lastError);

    private async Task ClientAsync(string cs, int client, CancellationToken stop)
    {
        try
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync(stop);
            var organizations = new List<Guid>();
            await using (var load = new NpgsqlCommand("SELECT id FROM public.organizations", connection))
            await using (var reader = await load.ExecuteReaderAsync(stop))
                while (await reader.ReadAsync(stop)) organizations.Add(reader.GetGuid(0));
            var random = new Random(client);
            var delay = pause ?? TimeSpan.FromMilliseconds(20);

            while (!stop.IsCancellationRequested)
            {
                var org = organizations[random.Next(organizations.Count)];
                var (sql, withOrg) = random.Next(4) switch
                {
                    0 => ("SELECT id, name, email FROM public.contacts WHERE organization_id = $1 AND name LIKE 'Contact 1%' ORDER BY created_at DESC LIMIT 50", true),
                    1 => ("SELECT * FROM public.contacts WHERE organization_id = $1 ORDER BY created_at DESC LIMIT 1", true),
                    2 => ("UPDATE public.contacts SET name = name WHERE id = (SELECT id FROM public.contacts WHERE organization_id = $1 LIMIT 1)", true),
                    _ => ("INSERT INTO public.contacts (organization_id, name, email) VALUES ($1, 'Workload contact', 'workload@example.test')", true),
                };
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await using var command = new NpgsqlCommand(sql, connection);
                    if (withOrg) command.Parameters.Add(new NpgsqlParameter { Value = org });
                    await command.ExecuteNonQueryAsync(stop);
                    Interlocked.Increment(ref _transactions);
                }
                catch (PostgresException ex)
                {
                    Interlocked.Increment(ref _failures);
                    _lastError = $"{ex.SqlState}: {ex.MessageText}";
                }
                var took = Stopwatch.GetElapsedTime(started).Ticks;
                long seen;
                while (took > (seen = Interlocked.Read(ref _maxLatencyTicks)) && Interlocked.CompareExchange(ref _maxLatencyTicks, took, seen) != seen) { }
                await Task.Delay(delay, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (NpgsqlException ex) when (stop.IsCancellationRequested)
        {
            _lastError = ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _stop.Dispose();
    }
}
