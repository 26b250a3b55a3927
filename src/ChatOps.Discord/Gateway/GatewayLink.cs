using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Gateway;

/// <summary>
/// One Gateway WebSocket: framed JSON in and out (one sender at a time), and its heartbeat. The ACK flag lives here, with
/// the connection, so a new connection never inherits a stale "ACK pending" from the last one.
/// </summary>
internal sealed class GatewayLink(ClientWebSocket socket, TimeProvider time, ILogger logger)
{
    // Any code but 1000/1001 keeps the session resumable.
    private const WebSocketCloseStatus Resumable = (WebSocketCloseStatus)4000;

    private readonly SemaphoreSlim _sending = new(1, 1);
    private volatile bool _acked = true;

    /// <summary>True once a beat went unanswered until the next one: the connection is a zombie and was cut.</summary>
    public bool Zombie { get; private set; }

    public void Acknowledged() => _acked = true;

    /// <summary>The next frame, or null when the server closed the connection (its code is then on the socket).</summary>
    public async Task<JsonNode?> ReceiveAsync(CancellationToken cancellationToken)
    {
        using var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await CloseQuietlyAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure);
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
                return JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
        }
    }

    public async Task SendAsync(JsonObject frame, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(frame.ToJsonString());
        await _sending.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, true, cancellationToken);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// Beats until the connection ends: the first after <paramref name="interval"/> × a random fraction (so reconnecting
    /// bots spread out), then every interval. A beat still unacknowledged at the next one cuts the connection.
    /// </summary>
    public async Task BeatAsync(TimeSpan interval, Func<long?> sequence, CancellationTokenSource connection)
    {
        try
        {
            await Task.Delay(interval * Random.Shared.NextDouble(), time, connection.Token);
            while (!connection.IsCancellationRequested)
            {
                if (!_acked)
                {
                    Zombie = true;
                    await CloseAsync(connection.Token);
                    await connection.CancelAsync();
                    return;
                }
                _acked = false;
                await SendAsync(new JsonObject { ["op"] = GatewayCodes.Heartbeat, ["d"] = sequence() }, connection.Token);
                await Task.Delay(interval, time, connection.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The connection ended; the receive loop decides what comes next.
        }
    }

    /// <summary>Closes with a resumable code (the session survives), waiting briefly for the server's answer at most.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        using var brief = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        brief.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await _sending.WaitAsync(brief.Token);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    await socket.CloseOutputAsync(Resumable, "reconnecting", brief.Token);
            }
            finally
            {
                _sending.Release();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            logger.LogDebug("Discord Gateway: close not sent ({Error})", e.Message);
        }
    }

    /// <summary>On shutdown: 1000 ends the session, as nobody will resume it.</summary>
    public Task CloseNormallyAsync() => CloseQuietlyAsync(WebSocketCloseStatus.NormalClosure);

    private async Task CloseQuietlyAsync(WebSocketCloseStatus status)
    {
        using var brief = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(status, null, brief.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            logger.LogDebug("Discord Gateway: close not sent ({Error})", e.Message);
        }
    }
}
