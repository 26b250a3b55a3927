using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatOps.Testing.FakeSlack;

/// <summary>
/// One Socket Mode connection to the fake, from Slack's side: it has sent <c>hello</c>; the test sends envelopes and
/// <c>disconnect</c> and waits for the acknowledgements the client sends back.
/// </summary>
public sealed class FakeSlackSocket
{
    private readonly WebSocket _socket;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _acks = new();
    private readonly ConcurrentQueue<JsonObject> _received = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _envelopes;

    internal FakeSlackSocket(int number, WebSocket socket)
    {
        Number = number;
        _socket = socket;
    }

    /// <summary>1 for the first connection opened on the fake, 2 for the next …</summary>
    public int Number { get; }

    /// <summary>Every message the client sent, in order (acks are <c>{"envelope_id":…}</c>).</summary>
    public IReadOnlyList<JsonObject> Received => [.. _received];

    /// <summary>Completes when the connection has ended, however.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Sends an envelope (<c>slash_commands</c>, <c>events_api</c>, <c>interactive</c>) and returns its envelope id.</summary>
    public async Task<string> SendEnvelopeAsync(string type, JsonObject payload, bool acceptsResponsePayload = false, string? envelopeId = null,
        CancellationToken cancellationToken = default)
    {
        var id = envelopeId ?? $"env-{Number}-{Interlocked.Increment(ref _envelopes)}";
        _acks.GetOrAdd(id, _ => NewAck());
        await SendAsync(new JsonObject
        {
            ["envelope_id"] = id,
            ["type"] = type,
            ["payload"] = payload,
            ["accepts_response_payload"] = acceptsResponsePayload,
        }, cancellationToken);
        return id;
    }

    /// <summary>Sends <c>{"type":"disconnect","reason":…}</c> (<c>warning</c>, <c>refresh_requested</c>, <c>link_disabled</c>, <c>too_many_websockets</c>).</summary>
    public Task DisconnectAsync(string reason, CancellationToken cancellationToken = default) =>
        SendAsync(new JsonObject { ["type"] = "disconnect", ["reason"] = reason, ["debug_info"] = new JsonObject { ["host"] = "fake" } }, cancellationToken);

    /// <summary>Sends any JSON message.</summary>
    public async Task SendAsync(JsonObject message, CancellationToken cancellationToken = default)
    {
        await _sending.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancellationToken);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>The acknowledgement of <paramref name="envelopeId"/>, once the client sent it.</summary>
    public Task<JsonObject> AckAsync(string envelopeId) => _acks.GetOrAdd(envelopeId, _ => NewAck()).Task;

    /// <summary>Whether <paramref name="envelopeId"/> has been acknowledged yet.</summary>
    public bool IsAcknowledged(string envelopeId) => _acks.TryGetValue(envelopeId, out var ack) && ack.Task.IsCompleted;

    /// <summary>Drops the connection without a close handshake, as a lost network would.</summary>
    public void Abort() => _socket.Abort();

    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(new JsonObject
            {
                ["type"] = "hello",
                ["num_connections"] = 1,
                ["connection_info"] = new JsonObject { ["app_id"] = "AFAKE" },
                ["debug_info"] = new JsonObject { ["host"] = "fake", ["approximate_connection_time"] = 3600 },
            }, cancellationToken);
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (_socket.State == WebSocketState.Open)
            {
                var result = await _socket.ReceiveAsync(buffer, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken);
                    break;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                    continue;
                var json = JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length)) as JsonObject;
                message.SetLength(0);
                if (json is null)
                    continue;
                _received.Enqueue(json);
                if (json["envelope_id"]?.GetValue<string>() is { } id)
                    _acks.GetOrAdd(id, _ => NewAck()).TrySetResult(json);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    private static TaskCompletionSource<JsonObject> NewAck() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
