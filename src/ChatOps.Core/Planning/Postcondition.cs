namespace ChatOps.Core.Planning;

/// <summary>
/// What the catalog shows once a statement has taken effect, so a statement interrupted by a crash can be
/// judged done or not done. Only statements whose effect the catalog can tell have one.
/// </summary>
public abstract record Postcondition
{
    /// <summary>For people: "column public.contacts.analytics_enabled exists".</summary>
    public abstract string Describe();
}

public sealed record ColumnExists(DbObjectName Table, string Column, bool Exists = true) : Postcondition
{
    public override string Describe() => $"column {Table}.{Column} {(Exists ? "exists" : "is absent")}";
}

/// <summary>The column is NOT NULL (or nullable) — <c>SET/DROP NOT NULL</c>.</summary>
public sealed record ColumnNotNull(DbObjectName Table, string Column, bool NotNull) : Postcondition
{
    public override string Describe() => $"column {Table}.{Column} is {(NotNull ? "NOT NULL" : "nullable")}";
}

/// <summary>The column has (or has no) default — <c>SET/DROP DEFAULT</c>.</summary>
public sealed record ColumnHasDefault(DbObjectName Table, string Column, bool HasDefault) : Postcondition
{
    public override string Describe() => $"column {Table}.{Column} {(HasDefault ? "has a default" : "has no default")}";
}

/// <summary>The index exists and is valid (or is absent).</summary>
public sealed record IndexValid(DbObjectName Index, bool Exists = true) : Postcondition
{
    public override string Describe() => Exists ? $"index {Index} exists and is valid" : $"index {Index} is absent";
}

public sealed record PolicyExists(DbObjectName Table, string Policy, bool Exists = true) : Postcondition
{
    public override string Describe() => $"policy \"{Policy}\" on {Table} {(Exists ? "exists" : "is absent")}";
}

/// <summary>A function or procedure of that name with that many arguments.</summary>
public sealed record FunctionExists(DbObjectName Function, int Arguments, bool Exists = true) : Postcondition
{
    public override string Describe() => $"function {Function} ({Arguments} argument(s)) {(Exists ? "exists" : "is absent")}";
}

/// <summary>A constraint of that name on the table.</summary>
public sealed record ConstraintExists(DbObjectName Table, string Constraint, bool Exists = true) : Postcondition
{
    public override string Describe() => $"constraint {Constraint} on {Table} {(Exists ? "exists" : "is absent")}";
}

/// <summary>Whether a postcondition holds on the target.</summary>
public enum PostconditionVerdict
{
    /// <summary>The statement has no postcondition the catalog can tell.</summary>
    Unknown,
    Done,
    NotDone,
}
