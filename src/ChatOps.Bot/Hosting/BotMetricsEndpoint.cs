using Prometheus;

namespace ChatOps.Bot.Hosting;

/// <summary><c>GET /metrics</c>: the bot's series in Prometheus' text format (prometheus-net's exporter, on <see cref="BotMetrics.Registry"/>).</summary>
public static class BotMetricsEndpoint
{
    public static IEndpointConventionBuilder MapBotMetrics(this WebApplication app, BotMetrics metrics) =>
        app.MapMetrics("/metrics", metrics.Registry);
}
