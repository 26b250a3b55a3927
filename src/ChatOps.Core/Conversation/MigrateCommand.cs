namespace ChatOps.Core.Conversation;

/// <summary>
/// A <c>/migrate</c> sub-command, parsed and checked: one sealed record per sub-command. Every platform
/// (Slack, Discord, the local channel) produces these through <see cref="MigrateGrammar.Parse"/>, so one
/// handler serves them all. The hierarchy is closed: only this assembly can add a sub-command.
/// </summary>
public abstract record MigrateCommand
{
    private protected MigrateCommand() { }

    /// <summary>The sub-command as typed, lower case: <c>start</c>.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The command in its canonical form (<c>/migrate start 2025_x --target prod</c>), for audit trails and
    /// replies; <see cref="MigrateGrammar.Parse"/> reads it back to an equal command.
    /// </summary>
    public string ToCommandLine() => string.Join(' ', new[] { MigrateGrammar.SlashCommand, Name }.Concat(Arguments()));

    private protected abstract IEnumerable<string> Arguments();

    /// <summary><c>help</c>: the sub-commands, one line each.</summary>
    public sealed record Help : MigrateCommand
    {
        public override string Name => "help";
        private protected override IEnumerable<string> Arguments() => [];
    }

    /// <summary><c>list</c>: the migrations, with their last deployment's state.</summary>
    public sealed record List : MigrateCommand
    {
        public override string Name => "list";
        private protected override IEnumerable<string> Arguments() => [];
    }

    /// <summary><c>plan &lt;migration&gt;</c>: the executor's plan for a migration.</summary>
    /// <param name="Migration">The migration's id, already checked by <see cref="Migrations.MigrationName.TryNormalize"/> (no <c>.sql</c>).</param>
    public sealed record Plan(string Migration) : MigrateCommand
    {
        public override string Name => "plan";
        private protected override IEnumerable<string> Arguments() => [Migration];
    }

    /// <summary><c>start &lt;migration&gt; [--target &lt;name&gt;] [--window]</c>: a new deployment and its card.</summary>
    /// <param name="Migration">The migration's id, already checked by <see cref="Migrations.MigrationName.TryNormalize"/> (no <c>.sql</c>).</param>
    /// <param name="Target">A named target (<c>ChatOps:Targets:&lt;name&gt;</c>), or null for the default target.</param>
    /// <param name="Window">True with <c>--window</c>: the deployment waits for the next maintenance window instead of running once approved.</param>
    public sealed record Start(string Migration, string? Target, bool Window = false) : MigrateCommand
    {
        public override string Name => "start";

        private protected override IEnumerable<string> Arguments() =>
            (Target is null ? [Migration] : new[] { Migration, "--target", Target }).Concat(Window ? ["--window"] : []);
    }

    /// <summary><c>status [D-n]</c>: the deployment's current status.</summary>
    public sealed record Status(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "status";
    }

    /// <summary><c>approve [D-n]</c>: the caller's sign-off, as if they had added the sign-off reaction.</summary>
    public sealed record Approve(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "approve";
    }

    /// <summary><c>revoke [D-n]</c>: withdraws the caller's sign-off, as if they had removed the reaction.</summary>
    public sealed record Revoke(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "revoke";
    }

    /// <summary><c>pause [D-n]</c>: stop at the next statement boundary or before the next phase.</summary>
    public sealed record Pause(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "pause";
    }

    /// <summary><c>resume [D-n]</c>: continue a paused deployment.</summary>
    public sealed record Resume(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "resume";
    }

    /// <summary><c>rollback [D-n] [--confirm]</c>: roll the deployment back.</summary>
    /// <param name="Confirmed">
    /// True when <c>--confirm</c> was given; otherwise the bot asks for confirmation before rolling back.
    /// </param>
    public sealed record Rollback(DeploymentId? Deployment, bool Confirmed) : DeploymentCommand(Deployment)
    {
        public override string Name => "rollback";
        private protected override IEnumerable<string> Arguments() => Confirmed ? [.. base.Arguments(), "--confirm"] : base.Arguments();
    }

    /// <summary><c>abort [D-n]</c>: stop the forward run at the next statement boundary, without rolling back.</summary>
    public sealed record Abort(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "abort";
    }

    /// <summary><c>history [D-n]</c>: the deployment's audit trail, most recent first.</summary>
    public sealed record History(DeploymentId? Deployment) : DeploymentCommand(Deployment)
    {
        public override string Name => "history";
    }
}

/// <summary>
/// A sub-command about one deployment. <see cref="Deployment"/> is null when the caller left it out: the
/// handler then picks the channel's only active deployment, or lists them when there are several.
/// </summary>
public abstract record DeploymentCommand(DeploymentId? Deployment) : MigrateCommand
{
    private protected override IEnumerable<string> Arguments() => Deployment is { } id ? [id.ToString()] : [];
}
