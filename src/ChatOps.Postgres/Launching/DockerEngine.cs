using System.Net.Sockets;

namespace ChatOps.Postgres.Launching;

internal readonly record struct DockerProbe(bool Available, string Reason);

/// <summary>Asks the Docker engine's <c>/_ping</c> quickly, so a missing engine costs milliseconds, not a Testcontainers timeout.</summary>
internal static class DockerEngine
{
    private const string DefaultSocket = "/var/run/docker.sock";

    public static async Task<DockerProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrEmpty(host) && !host.StartsWith("unix://", StringComparison.Ordinal))
            return new DockerProbe(true, $"DOCKER_HOST={host}");   // a TCP engine: let Testcontainers try it

        var socket = string.IsNullOrEmpty(host) ? DefaultSocket : host["unix://".Length..];
        if (!File.Exists(socket))
            return new DockerProbe(false, $"no Docker engine: {socket} does not exist");

        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync("http://docker/_ping", cancellationToken);
            return response.IsSuccessStatusCode
                ? new DockerProbe(true, $"Docker engine at {socket}")
                : new DockerProbe(false, $"the Docker engine at {socket} answered {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new DockerProbe(false, $"no Docker engine answers at {socket}: {ex.Message}");
        }
    }
}
