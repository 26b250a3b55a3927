using System.Collections.Concurrent;
using System.Text;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Discord;
using ChatOps.Discord.Rest;
using ChatOps.Testing.FakeDiscord;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NSec.Cryptography;

namespace ChatOps.Discord.Tests;

/// <summary>The inbox seam, recorded: what the adapter handed on, deduplicated by event id as the real inbox does.</summary>
internal sealed class RecordingInbox : IChatInbox
{
    private readonly ConcurrentQueue<ChatEvent> _events = new();
    private readonly ConcurrentDictionary<string, byte> _ids = new();

    /// <summary>When set, AcceptAsync throws it (the durable store is down).</summary>
    public Exception? Failure { get; set; }

    public IReadOnlyList<ChatEvent> Events => [.. _events];

    public Task<bool> AcceptAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        if (Failure is { } failure)
            throw failure;
        if (!_ids.TryAdd(chatEvent.EventId, 0))
            return Task.FromResult(false);
        _events.Enqueue(chatEvent);
        return Task.FromResult(true);
    }
}

/// <summary>What a component logged, as text: lets a test wait for the moment something happened inside it.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue(formatter(state, exception));
}

/// <summary>Signs interactions as Discord does, with a key made for the test.</summary>
internal sealed class InteractionSigner : IDisposable
{
    private readonly Key _key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

    public string PublicKeyHex => Convert.ToHexString(_key.PublicKey.Export(KeyBlobFormat.RawPublicKey)).ToLowerInvariant();

    public string Sign(string timestamp, string body) =>
        Convert.ToHexString(SignatureAlgorithm.Ed25519.Sign(_key, Encoding.UTF8.GetBytes(timestamp + body))).ToLowerInvariant();

    public void Dispose() => _key.Dispose();
}

internal static class Discord
{
    public const string GuildId = "200000000000000001";
    public const string ChannelId = "200000000000000002";

    public static DiscordOptions Options(FakeDiscordServer fake, string? publicKey = null) => new()
    {
        BotToken = fake.BotToken,
        ApplicationId = fake.ApplicationId,
        PublicKey = publicKey ?? new string('a', 64),
        GuildId = GuildId,
        ChannelId = ChannelId,
        ApiBaseUrl = fake.ApiBaseUrl,
    };

    public static DiscordRestClient Rest(DiscordOptions options, TimeSpan? failureBackoff = null) =>
        new(new HttpClient(), options, TimeProvider.System, NullLogger<DiscordRestClient>.Instance, failureBackoff ?? TimeSpan.FromMilliseconds(10));

    public static RoleHolders Holders(params (SignOffRole Role, string[] Holders)[] entries) =>
        new(entries.ToDictionary(e => e.Role, e => (IReadOnlySet<string>)e.Holders.ToHashSet()));

    public static async Task<DiscordChannel> ChannelAsync(FakeDiscordServer fake, RoleHolders? holders = null)
    {
        var options = Options(fake);
        var rest = Rest(options);
        var channel = new DiscordChannel(rest, options, holders ?? Holders(), new MemberRoles(rest, options, TimeProvider.System), TimeProvider.System,
            NullLogger<DiscordChannel>.Instance);
        await channel.InitializeAsync(CancellationToken.None);
        return channel;
    }
}
