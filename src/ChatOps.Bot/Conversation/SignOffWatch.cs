using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// What changes while a deployment takes sign-offs (awaiting approval, or approved and not started) without anyone doing anything: a
/// sign-off expiring (<c>ChatOps:Approvals:ValidFor</c>), a pinned file changed or deleted on disk. Every few seconds it looks at each
/// such deployment; what the trail has not recorded yet is recorded, the card edited and the thread told. Every replica runs one:
/// the change is made under the deployment's row lock and judged again there, so two replicas never say it twice.
/// </summary>
public sealed class SignOffWatch(DeploymentStore store, DeploymentCards cards, PinnedFileCheck files, TimeProvider time, ILogger<SignOffWatch> logger)
{
    /// <summary>How often it looks when nothing is said: 5 seconds (<c>ChatOps:Approvals:WatchInterval</c>).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often it looks.</summary>
    public TimeSpan Interval { get; init; } = DefaultInterval;

    /// <summary>Looks every <see cref="Interval"/> until <paramref name="stopping"/>; a failed look is logged and the next one tries again.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await LookAsync(stopping);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                logger.LogError(ex, "looking at the deployments taking sign-offs failed; trying again");
            }
            try
            {
                await Task.Delay(Interval, time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// One look at every deployment taking sign-offs. A deployment whose look fails (a file that cannot be read, a card that cannot be
    /// rendered) is logged and left to the next look; the others are looked at all the same.
    /// </summary>
    public async Task LookAsync(CancellationToken cancellationToken)
    {
        foreach (var id in await store.SigningAsync(cancellationToken))
        {
            try
            {
                await LookAtAsync(id, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogError(ex, "{Deployment}: looking at its sign-offs and pinned files failed; the next look tries again", id);
            }
        }
    }

    private async Task LookAtAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        // Judged first without a lock: most looks find nothing, and must not queue behind a sign-off's transaction.
        if (await store.LoadAsync(id, cancellationToken) is not { } seen || !await ChangedAsync(seen, cancellationToken))
            return;
        await using var scope = await store.BeginAsync(cancellationToken);
        if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { State: DeploymentState.AwaitingApproval or DeploymentState.Approved } deployment)
            return;   // started, aborted meanwhile: sign-offs no longer change anything
        var now = time.GetUtcNow();
        var recorded = deployment.Audit.Count;
        // A changed file voids every sign-off (nothing left to expire): saved, the card and thread told, as before a run.
        await files.VoidAndSayAsync(scope, deployment, store, cards, now, cancellationToken);
        var expired = deployment.SignOffsExpired(now);
        if (deployment.Audit.Count == recorded)
            return;   // another replica said it already (or a person signed again meanwhile)
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        foreach (var line in expired)
            await cards.ThreadAsync(scope, deployment, new ChatMessage($"⌛ {deployment.Id}: {line}"), cancellationToken);
        await scope.CommitAsync(cancellationToken);
        logger.LogInformation("{Deployment}: {Said}", id, string.Join("; ", deployment.Audit.Skip(recorded).Select(a => a.What)));
    }

    // Whether a look under the lock would record something: judged on an unlocked copy that is never saved.
    private async Task<bool> ChangedAsync(Deployment seen, CancellationToken cancellationToken)
    {
        var recorded = seen.Audit.Count;
        var now = time.GetUtcNow();
        await files.VoidIfChangedAsync(seen, now, cancellationToken);
        seen.SignOffsExpired(now);
        return seen.Audit.Count > recorded;
    }
}
