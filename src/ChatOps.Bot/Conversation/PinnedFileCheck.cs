using System.Security.Cryptography;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Compares a deployment's pinned files (migration, rollback, runbook) with the files on disk now. A change before execution
/// voids every sign-off and the card says why (issue 12, §3): looked at on every sign-off, every few seconds while signing is open
/// (<see cref="SignOffWatch"/>) and once more right before the run starts.
/// </summary>
public sealed class PinnedFileCheck(MigrationCatalog catalog)
{
    /// <summary>
    /// Voids <paramref name="deployment"/>'s sign-offs for each pinned file whose bytes on disk differ from the pinned ones, or that is gone;
    /// true when one did. A difference already noticed (the file's latest state in the trail) voids nothing again: once people have seen
    /// it and signed again, they have signed the pinned bytes knowing the file differs, and what runs is still exactly the pinned bytes.
    /// A file back to its pinned bytes is recorded, so that a change after it voids again (<see cref="Deployment.FileOnDisk"/>).
    /// </summary>
    public async Task<bool> VoidIfChangedAsync(Deployment deployment, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var voided = false;
        foreach (var (file, path) in Files(deployment))
            voided |= deployment.FileOnDisk(file, await HashOnDiskAsync(path, cancellationToken), now);
        return voided;
    }

    /// <summary>
    /// Right before an approved deployment starts (the last moment a change matters): a changed file sends it back to awaiting
    /// approval, its card and thread saying why, in <paramref name="scope"/>; true when it must not start.
    /// </summary>
    public async Task<bool> StopIfChangedAsync(StateScope scope, Deployment deployment, DeploymentStore store, DeploymentCards cards, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        deployment.State == DeploymentState.Approved && await VoidAndSayAsync(scope, deployment, store, cards, now, cancellationToken);

    /// <summary>
    /// For a deployment still taking sign-offs, locked in <paramref name="scope"/>: a changed (or deleted) pinned file voids every
    /// sign-off, and the deployment is saved, its card edited and its thread told why; true when it did.
    /// </summary>
    public async Task<bool> VoidAndSayAsync(StateScope scope, Deployment deployment, DeploymentStore store, DeploymentCards cards, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        // An approved deployment about to start did not start; one waiting for its window, or for sign-offs, needs them again.
        var starting = deployment is { State: DeploymentState.Approved, WaitsForWindow: false };
        if (!await VoidIfChangedAsync(deployment, now, cancellationToken))
            return false;
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        await cards.ThreadAsync(scope, deployment, new ChatMessage(starting
            ? $"⚠️ {deployment.Id} did not start: {deployment.VoidedBecause}"
            : $"⚠️ {deployment.Id}: sign-offs void: {deployment.VoidedBecause}"), cancellationToken);
        return true;
    }

    /// <summary>
    /// How much older than the moment it was hashed a file's modification time must be for the hash to be kept: file systems keep the
    /// time coarsely (a second, two on FAT), so a same-size rewrite just after the hash may leave size and time as they were.
    /// </summary>
    private static readonly TimeSpan ModificationTimeGranularity = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The file's SHA-256, read again only when its size or modification time changed since it was last read (every sign-off
    /// looks, and the watch every few seconds: the same files must not be read and hashed each time); null when it is gone. A hash
    /// taken within <see cref="ModificationTimeGranularity"/> of the file's modification time (or before it) is not kept: a rewrite of
    /// the same size in the same tick would not show in the time.
    /// </summary>
    private async Task<string?> HashOnDiskAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            return null;
        var stamp = (info.Length, info.LastWriteTimeUtc);
        if (_hashes.TryGetValue(path, out var known) && known.Stamp == stamp && known.HashedAt - stamp.LastWriteTimeUtc > ModificationTimeGranularity)
            return known.Sha256;
        // The file system's clock, which stamps the file (not the bot's, which a test may shift); taken before the read, so a write during it
        // counts as after the hash.
        var hashedAt = TimeProvider.System.GetUtcNow().UtcDateTime;
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return null;   // deleted between the look and the read
        }
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        _hashes[path] = (stamp, sha256, hashedAt);
        return sha256;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ((long Length, DateTime Written) Stamp, string Sha256, DateTime HashedAt)> _hashes = new();

    // Each pinned file where it was read from: its name in the migrations directory.
    private IEnumerable<(PinnedFile File, string Path)> Files(Deployment deployment) =>
        new[] { deployment.Migration.Sql, deployment.Migration.Rollback, deployment.Migration.Runbook }
            .OfType<PinnedFile>()
            .Select(file => (file, Path.Combine(catalog.Directory, file.Name)));
}
