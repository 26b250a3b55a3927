using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;

namespace ChatOps.Bot.Cli;

/// <summary>The demo's people: one signer per role, and a requester who holds a role too (and so may not sign their own request).</summary>
public static class DemoCast
{
    public const string Requester = "rita";
    public const string DatabaseAdministrator = "dana";
    public const string SeniorBackendEngineer = "sam";
    public const string DevOpsLead = "olga";
    public const string ProductOwner = "pete";

    /// <summary>The signers in the order they react.</summary>
    public static IReadOnlyList<(string User, SignOffRole Role)> Signers { get; } =
    [
        (DatabaseAdministrator, SignOffRole.DatabaseAdministrator),
        (SeniorBackendEngineer, SignOffRole.SeniorBackendEngineer),
        (DevOpsLead, SignOffRole.DevOpsSreLead),
        (ProductOwner, SignOffRole.ProductOwner),
    ];

    public static RoleHolders Holders { get; } = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { DatabaseAdministrator },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { SeniorBackendEngineer, Requester },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { DevOpsLead },
        [SignOffRole.ProductOwner] = new HashSet<string> { ProductOwner },
    });

    /// <summary>"dana (Database Administrator), sam (…), …, and rita (Senior Backend Engineer) asks".</summary>
    public static string Introduction() =>
        string.Join(", ", Signers.Select(s => $"{s.User} ({s.Role.Title()})")) +
        $"; {Requester} ({SignOffRole.SeniorBackendEngineer.Title()}) requests the deployment and so may not sign it";
}
