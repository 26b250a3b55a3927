using System.Text.Json;
using System.Text.Json.Serialization;
using ChatOps.Core.Monitoring;

namespace ChatOps.Core.Runbooks;

/// <summary>
/// Where a runbook run stands and everything the phases still to come need from the ones before it — so that another
/// process can continue the run at <see cref="Phase"/> without measuring a baseline again after the migration started.
/// The statements themselves are not in it: the target's statement journal says which completed. Plain data, made to be
/// stored as JSON (<see cref="ToJson"/>, <see cref="FromJson"/>) in the bot's state database.
/// </summary>
/// <param name="Format">The layout's version; a checkpoint of another format is refused.</param>
/// <param name="Migration">The migration id the run is for.</param>
/// <param name="Sha256">The migration file's SHA-256 when the checkpoint was taken.</param>
/// <param name="RunId">The run that took the checkpoint.</param>
/// <param name="HistoryId">The run's entry in the target's <c>chatops.migration_history</c>: a resumed run must find it as the migration's latest.</param>
/// <param name="Phase">The phase to continue at: <see cref="RunbookPhase.Migration"/>, <see cref="RunbookPhase.IndexBuilds"/> or <see cref="RunbookPhase.Validation"/>.</param>
/// <param name="BaselineAt">When the baseline was measured (the end of phase 1).</param>
/// <param name="BaselineRunId">The run that measured the baseline (the first of a chain of resumed runs).</param>
/// <param name="RollbackBaselinePercent">The target's normal rollback ratio, read in phase 1.</param>
/// <param name="CountsAtMigration">The target's transaction counters read just before the migration started.</param>
/// <param name="OwnCommitsAtMigration">The bot's own committed transactions counted by then.</param>
/// <param name="OwnCommits">The bot's own committed transactions counted when the checkpoint was taken (they are not the application's).</param>
/// <param name="OwnFailures">The bot's own aborted transactions counted when the checkpoint was taken.</param>
/// <param name="NotValidChecksBefore">OIDs of the NOT VALID check constraints that existed before the migration (not the migration's doing).</param>
/// <param name="Baseline">The benchmark baseline: each query's timings, buffers and plan, and the control query.</param>
/// <param name="RlsBefore">The RLS overhead measured before the migration, when the runbook has a probe and it could be measured.</param>
/// <param name="Parameters">The benchmark parameters (<c>$1</c>, <c>$2</c>, …) as phase 1 read them.</param>
/// <param name="RowsAtBaseline">Where the rows that existed at baseline are kept, with their count and checksum.</param>
/// <param name="Watch">What the sampler saw while the migration ran, and the statements' ACCESS EXCLUSIVE holds.</param>
/// <param name="Criteria">Success criteria measured so far.</param>
/// <param name="Reasons">Reasons to fail found so far (including rollback triggers that fired).</param>
public sealed record RunbookCheckpoint(
    int Format,
    string Migration,
    string Sha256,
    string RunId,
    long HistoryId,
    RunbookPhase Phase,
    DateTimeOffset BaselineAt,
    string BaselineRunId,
    double? RollbackBaselinePercent,
    TransactionCounts CountsAtMigration,
    long OwnCommitsAtMigration,
    long OwnCommits,
    long OwnFailures,
    IReadOnlyList<uint> NotValidChecksBefore,
    BenchmarkRound Baseline,
    RlsOverhead? RlsBefore,
    IReadOnlyList<RunbookParameter> Parameters,
    KeptRows? RowsAtBaseline,
    MigrationWatch Watch,
    IReadOnlyList<MeasuredCriterion> Criteria,
    IReadOnlyList<string> Reasons)
{
    /// <summary>The layout this code writes and reads.</summary>
    public const int CurrentFormat = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <exception cref="JsonException">Not a checkpoint.</exception>
    public static RunbookCheckpoint FromJson(string json) =>
        JsonSerializer.Deserialize<RunbookCheckpoint>(json, Json) ?? throw new JsonException("a runbook checkpoint is a JSON object, not null");

    /// <summary>Why this checkpoint cannot continue a run of <paramref name="migration"/>, or null when it can (as far as it alone says).</summary>
    public string? Unusable(string migration) =>
        Format != CurrentFormat ? $"the checkpoint is of format {Format}, this bot reads format {CurrentFormat}"
        : !string.Equals(Migration, migration, StringComparison.Ordinal) ? $"the checkpoint is of migration {Migration}, not {migration}"
        : Phase is not (RunbookPhase.Migration or RunbookPhase.IndexBuilds or RunbookPhase.Validation)
            ? $"a run resumes at the migration, the index builds or the validation, not at {Checklist.Title(Phase)}"
        : null;
}

/// <summary>One benchmark parameter as the server wrote it: its type's name and its text (null for SQL NULL).</summary>
public sealed record RunbookParameter(string Type, string? Text);

/// <summary>The rows that existed at baseline, kept (their keys) in <see cref="Table"/> on the target until the run's verdict.</summary>
/// <param name="Checksum">An order-independent checksum of the kept rows: a resumed run checks they are still the same.</param>
public sealed record KeptRows(string Table, long Count, string Checksum);

/// <summary>What the sampler saw while the migration ran: application sessions blocked by it, and each statement's ACCESS EXCLUSIVE hold.</summary>
public sealed record MigrationWatch(int PeakBlocked, int PeakBlockedByOthers, int Samples, IReadOnlyDictionary<int, TimeSpan> ExclusiveHolds);

/// <summary>A success criterion's measured value (null when it could not be measured) and why.</summary>
public sealed record MeasuredCriterion(string Name, double? Value, string Detail);
