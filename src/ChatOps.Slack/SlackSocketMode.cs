using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack;

/// <summary>Where the Socket Mode connection stands.</summary>
public enum SocketModeStatus
{
    /// <summary>Asking for a URL, connecting, or waiting to try again.</summary>
    Connecting,
    /// <summary>Slack said hello: envelopes arrive.</summary>
    Connected,
    /// <summary>Given up for good (see <see cref="SocketModeState.Why"/>), or shut down.</summary>
    Stopped,
}

/// <summary>The connection's state, for a readiness check: ready only while <see cref="SocketModeStatus.Connected"/>.</summary>
public sealed record SocketModeState(SocketModeStatus Status, string? Why = null)
{
    public bool IsReady => Status == SocketModeStatus.Connected;
}

/// <summary>Pauses between Socket Mode connections: doubled after each failure up to <see cref="Max"/>, with jitter.</summary>
public sealed record SocketModeBackoff
{
    public TimeSpan First { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan Max { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a ping checks the connection, and how long its pong may take before the connection counts as lost.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Slack's Socket Mode, for a bot without a public URL (<c>Slack:AppToken</c>): <c>apps.connections.open</c> → WebSocket →
/// <c>hello</c> → each envelope handed to the same <see cref="SlackInbound"/> as the HTTP endpoints and acknowledged by its
/// <c>envelope_id</c> only once the inbox took it (unacknowledged, Slack delivers it again). A <c>disconnect</c> gets a fresh
/// URL; a lost connection is retried with capped exponential backoff; <c>link_disabled</c> or a refused app token stops it,
/// with <see cref="State"/> saying why. The host runs <see cref="RunAsync"/> on the one replica that holds the socket.
/// </summary>
public sealed class SlackSocketModeClient
{
    private const string Transport = "Socket Mode";
    private readonly SlackApiClient _appApi;
    private readonly SlackInbound _inbound;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SocketModeBackoff _backoff;
    private volatile SocketModeState _state = new(SocketModeStatus.Connecting);
    private int _failures;

    /// <param name="appApi">A client built with the app-level token (<c>xapp-…</c>).</param>
    public SlackSocketModeClient(SlackApiClient appApi, SlackInbound inbound, TimeProvider time, ILogger<SlackSocketModeClient> logger,
        SocketModeBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(appApi);
        ArgumentNullException.ThrowIfNull(inbound);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _appApi = appApi;
        _inbound = inbound;
        _time = time;
        _logger = logger;
        _backoff = backoff ?? new SocketModeBackoff();
    }

    /// <summary>The connection's state now.</summary>
    public SocketModeState State => _state;

    /// <summary>
    /// Connects and keeps connected until <paramref name="cancellationToken"/> ends it or Slack stops it for good; returns then,
    /// with <see cref="State"/> <see cref="SocketModeStatus.Stopped"/>.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                _state = new SocketModeState(SocketModeStatus.Connecting);
                var next = await ConnectOnceAsync(cancellationToken);
                switch (next)
                {
                    case Next.Stop stop:
                        _logger.LogError("Slack Socket Mode stopped: {Why}", stop.Why);
                        _state = new SocketModeState(SocketModeStatus.Stopped, stop.Why);
                        return;
                    case Next.Reconnect { AfterPause: false }:
                        continue;
                    default:
                        var pause = Pause(++_failures);
                        _logger.LogInformation("Slack Socket Mode: connecting again in {Pause}", pause);
                        await Task.Delay(pause, _time, cancellationToken);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        _state = new SocketModeState(SocketModeStatus.Stopped, "shut down");
    }

    private abstract record Next
    {
        public sealed record Reconnect(bool AfterPause) : Next;
        public sealed record Stop(string Why) : Next;
    }

    private async Task<Next> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        Uri url;
        try
        {
            var answer = await _appApi.CallAsync("apps.connections.open", [], cancellationToken);
            url = new Uri(SlackPayloads.String(answer, "url") ?? throw new SlackApiException("apps.connections.open", "invalid_response", "no url"));
        }
        catch (SlackApiException ex) when (ex.Error is "invalid_auth" or "not_authed" or "not_allowed_token_type" or "token_revoked" or "account_inactive")
        {
            return new Next.Stop($"Slack refused {SlackOptions.Section}:AppToken ({ex.Error}): set an app-level token (xapp-…) with connections:write, " +
                                 "or unset it to use the HTTP endpoints");
        }
        catch (SlackApiException ex)
        {
            _logger.LogWarning("Slack Socket Mode: apps.connections.open failed ({Error})", ex.Error);
            return new Next.Reconnect(AfterPause: true);
        }

        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = _backoff.KeepAlive;
        socket.Options.KeepAliveTimeout = _backoff.KeepAlive;
        try
        {
            await socket.ConnectAsync(url, cancellationToken);
            return await ReceiveAsync(socket, cancellationToken);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or HttpRequestException)
        {
            _logger.LogWarning("Slack Socket Mode: connection lost ({Reason})", ex.Message);
            return new Next.Reconnect(AfterPause: true);
        }
        finally
        {
            await CloseAsync(socket);
        }
    }

    private async Task<Next> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await ReadMessageAsync(socket, cancellationToken) is not { } text)
            {
                _logger.LogInformation("Slack Socket Mode: Slack closed the connection");
                return new Next.Reconnect(AfterPause: true);
            }
            JsonElement message;
            try
            {
                using var document = JsonDocument.Parse(text);
                message = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                _logger.LogWarning("Slack Socket Mode: a frame that is not JSON, ignored");
                continue;
            }

            var type = SlackPayloads.String(message, "type");
            if (type == "hello")
            {
                _failures = 0;
                _state = new SocketModeState(SocketModeStatus.Connected);
                _logger.LogInformation("Slack Socket Mode: connected");
                continue;
            }
            if (type == "disconnect")
            {
                var reason = SlackPayloads.String(message, "reason") ?? "unknown";
                _logger.LogInformation("Slack Socket Mode: Slack asks to disconnect ({Reason})", reason);
                return reason switch
                {
                    "link_disabled" => new Next.Stop("Socket Mode was turned off in the app's settings (link_disabled): turn it on again, " +
                                                     $"or unset {SlackOptions.Section}:AppToken to use the HTTP endpoints"),
                    // Too many sockets open: going straight back would only add one more.
                    "too_many_websockets" => new Next.Reconnect(AfterPause: true),
                    _ => new Next.Reconnect(AfterPause: false),
                };
            }
            if (SlackPayloads.String(message, "envelope_id") is { } envelopeId)
                await HandleEnvelopeAsync(socket, envelopeId, type, message, cancellationToken);
        }
    }

    private async Task HandleEnvelopeAsync(ClientWebSocket socket, string envelopeId, string? type, JsonElement envelope, CancellationToken cancellationToken)
    {
        var payload = envelope.TryGetProperty("payload", out var p) ? p : default;
        InboundOutcome outcome;
        try
        {
            outcome = type switch
            {
                "slash_commands" => await _inbound.CommandAsync(SlackPayloads.Fields(payload), Transport, cancellationToken),
                "events_api" => await _inbound.EventAsync(payload, Transport, cancellationToken),
                "interactive" => _inbound.Interaction(payload, Transport),
                _ => new InboundOutcome.Ignored($"envelope type '{type}'"),
            };
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not acknowledged: Slack sends the envelope again, and the inbox takes it then.
            _logger.LogError(ex, "Slack Socket Mode: the inbox did not take envelope {EnvelopeId} ({Type}); not acknowledged, so Slack sends it again",
                envelopeId, type);
            return;
        }

        var ack = new JsonObject { ["envelope_id"] = envelopeId };
        if (outcome is InboundOutcome.AnswerCaller answer && envelope.TryGetProperty("accepts_response_payload", out var accepts) && accepts.ValueKind == JsonValueKind.True)
            ack["payload"] = new JsonObject { ["response_type"] = "ephemeral", ["text"] = answer.Text };
        await socket.SendAsync(Encoding.UTF8.GetBytes(ack.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
    }

    // A whole text message (Slack may split one over frames); null when the socket closed.
    private static async Task<string?> ReadMessageAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
                return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
                return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
        }
    }

    private static async Task CloseAsync(ClientWebSocket socket)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            return;
        try
        {
            // Output only: the old socket must not linger (Slack counts it), but its answer is not worth waiting for.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "reconnecting", timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }

    private TimeSpan Pause(int failures)
    {
        var capped = Math.Min(_backoff.First.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20)), _backoff.Max.TotalMilliseconds);
        // Half fixed, half random: replicas that lost Slack together do not all come back at the same instant.
        return TimeSpan.FromMilliseconds(capped / 2 + Random.Shared.NextDouble() * capped / 2);
    }
}
