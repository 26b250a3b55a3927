using System.Security.Cryptography;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Compares a deployment's pinned files (migration, rollback, runbook) with the files on disk now. A change before execution
/// voids every sign-off and the card says why (issue 12, §3): looked at on every sign-off and once more right before the run starts.
/// </summary>
public sealed class PinnedFileCheck(MigrationCatalog catalog)
{
    /// <summary>
    /// Voids <paramref name="deployment"/>'s sign-offs for each pinned file whose bytes on disk differ from the pinned ones; true when
    /// one did. A change already noticed (the same file at the same hash) voids nothing again: once people have seen it and signed
    /// again, they have signed the pinned bytes knowing the file differs, and what runs is still exactly the pinned bytes.
    /// </summary>
    public async Task<bool> VoidIfChangedAsync(Deployment deployment, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var voided = false;
        foreach (var (file, path) in Files(deployment))
        {
            if (!File.Exists(path))
                continue;
            var onDisk = await HashOnDiskAsync(path, cancellationToken);
            if (onDisk == file.Sha256 || Noticed(deployment, file.Name, onDisk))
                continue;
            deployment.FileChanged(file.Name, onDisk, now);
            voided = true;
        }
        return voided;
    }

    /// <summary>
    /// Right before an approved deployment starts (the last moment a change matters): a changed file sends it back to awaiting
    /// approval, its card and thread saying why, in <paramref name="scope"/>; true when it must not start.
    /// </summary>
    public async Task<bool> StopIfChangedAsync(StateScope scope, Deployment deployment, DeploymentStore store, DeploymentCards cards, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (deployment.State != DeploymentState.Approved || !await VoidIfChangedAsync(deployment, now, cancellationToken))
            return false;
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        await cards.ThreadAsync(scope, deployment, new ChatMessage($"⚠️ {deployment.Id} did not start: {deployment.VoidedBecause}"), cancellationToken);
        return true;
    }

    /// <summary>
    /// The file's SHA-256, read again only when its size or modification time changed since it was last read (every sign-off
    /// looks: a burst of reactions must not read and hash the same files each time).
    /// </summary>
    private async Task<string> HashOnDiskAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        var stamp = (info.Length, info.LastWriteTimeUtc);
        if (_hashes.TryGetValue(path, out var known) && known.Stamp == stamp)
            return known.Sha256;
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, cancellationToken)));
        _hashes[path] = (stamp, sha256);
        return sha256;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ((long Length, DateTime Written) Stamp, string Sha256)> _hashes = new();

    // Deployment.FileChanged writes "sign-offs void: <file> changed on disk after signing (sha256 now <short>)…" in the trail.
    private static bool Noticed(Deployment deployment, string file, string sha256) =>
        deployment.Audit.Any(a => a.What.StartsWith($"sign-offs void: {file} changed on disk", StringComparison.Ordinal)
                                  && a.What.Contains($"sha256 now {sha256[..4]}…{sha256[^4..]})", StringComparison.Ordinal));

    // Each pinned file where it was read from: its name in the migrations directory (a file no longer there is not compared).
    private IEnumerable<(PinnedFile File, string Path)> Files(Deployment deployment) =>
        new[] { deployment.Migration.Sql, deployment.Migration.Rollback, deployment.Migration.Runbook }
            .OfType<PinnedFile>()
            .Select(file => (file, Path.Combine(catalog.Directory, file.Name)));
}
