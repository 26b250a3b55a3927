namespace ChatOps.Core.Runbooks;

/// <summary>The four roles whose sign-off a deployment needs.</summary>
public enum SignOffRole
{
    DatabaseAdministrator,
    SeniorBackendEngineer,
    DevOpsSreLead,
    ProductOwner,
}

/// <summary>The checklist's phases, in order.</summary>
public enum RunbookPhase
{
    PreDeployment,
    Baseline,
    Migration,
    IndexBuilds,
    Validation,
    Verdict,
}

/// <summary>How a check came out. <see cref="Manual"/>: only a person can confirm it; its role does, by signing off.</summary>
public enum CheckStatus
{
    Pass,
    Warn,
    Fail,
    Manual,
}

/// <summary>One pre-deployment check or validation.</summary>
public sealed record CheckResult(string Name, CheckStatus Status, string Detail, SignOffRole? Role = null);

/// <summary>A success criterion: a measured value against the checklist's limit.</summary>
public sealed record SuccessCriterion(string Name, string Checklist, bool AtMost, double Limit, string Unit)
{
    public bool IsMetBy(double value) => AtMost ? value <= Limit : value >= Limit;

    public string Describe() => $"{Name} {(AtMost ? "≤" : "≥")} {Limit}{Unit}";
}

/// <summary>
/// A criterion's outcome. <see cref="Measured"/> is null when it was not measured: that fails it when it should have
/// been (<see cref="Required"/>: the means were there and the measurement failed), and is reported as "not measured"
/// when the runbook gives nothing to measure it with (no benchmark queries, no RLS probe …).
/// </summary>
public sealed record CriterionResult(SuccessCriterion Criterion, double? Measured, string Detail, bool Required = true)
{
    public bool Passed => Measured is { } v ? Criterion.IsMetBy(v) : !Required;

    public bool NotMeasured => Measured is null;
}

/// <summary>The customer's checklist as data: phase names, manual items and success criteria.</summary>
public static class Checklist
{
    public static string Title(this RunbookPhase phase) => phase switch
    {
        RunbookPhase.PreDeployment => "pre-deployment checks",
        RunbookPhase.Baseline => "phase 1 · setup & baseline",
        RunbookPhase.Migration => "phase 2 · execute migration",
        RunbookPhase.IndexBuilds => "phase 3 · index builds",
        RunbookPhase.Validation => "phase 4 · validation",
        _ => "verdict",
    };

    public static string Title(this SignOffRole role) => role switch
    {
        SignOffRole.DatabaseAdministrator => "Database Administrator",
        SignOffRole.SeniorBackendEngineer => "Senior Backend Engineer",
        SignOffRole.DevOpsSreLead => "DevOps/SRE Lead",
        _ => "Product Owner",
    };

    /// <summary>Items no query can confirm; the role that confirms each signs off for it.</summary>
    public static IReadOnlyList<CheckResult> ManualItems { get; } =
    [
        new("backup verified", CheckStatus.Manual, "full backup completed and restore-tested", SignOffRole.DatabaseAdministrator),
        new("connection limits", CheckStatus.Manual, "temporarily reduced to 50 % of normal", SignOffRole.DatabaseAdministrator),
        new("monitoring dashboard", CheckStatus.Manual, "performance dashboard active and shared", SignOffRole.DevOpsSreLead),
        new("rollback tested", CheckStatus.Manual, "rollback script tested and ready", SignOffRole.DevOpsSreLead),
        new("maintenance window", CheckStatus.Manual, "scheduled off-peak (recommended 2–4 AM local)", SignOffRole.DevOpsSreLead),
        new("application ready", CheckStatus.Manual, "code reviewed; query timeouts raised for the window", SignOffRole.SeniorBackendEngineer),
        new("stakeholders notified", CheckStatus.Manual, "engineering, product, customer success and support briefed", SignOffRole.ProductOwner),
    ];

    /// <summary>The checklist's success criteria (performance thresholds).</summary>
    public static IReadOnlyList<SuccessCriterion> SuccessCriteria { get; } =
    [
        new("longest ACCESS EXCLUSIVE hold", "Table Lock Duration", AtMost: true, 500, " ms"),
        new("peak blocked application sessions", "Blocked Queries", AtMost: true, 2, ""),
        new("query degradation", "Query Performance Degradation", AtMost: true, 3, " %"),
        new("RLS overhead", "RLS Overhead", AtMost: true, 2, " ms"),
        new("index usage", "Index Usage Rate", AtMost: false, 90, " %"),
    ];
}
