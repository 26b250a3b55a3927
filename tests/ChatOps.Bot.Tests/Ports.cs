using System.Net;
using System.Net.Sockets;

namespace ChatOps.Bot.Tests;

/// <summary>A port free on 127.0.0.1 now, for a child <c>serve</c> whose URL the test must know in advance.</summary>
internal static class Ports
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
