using System.Net;

namespace ChatOps.Benchmarks;

/// <summary>One request a sender made: when it went (ms since the load began), how long its acknowledgement took, what it answered.</summary>
public readonly record struct Acknowledgement(double SentAtMs, double LatencyMs, HttpStatusCode Status);

/// <summary>
/// Concurrent senders, each taking the next request from one shared queue and sending it as soon as its previous one was
/// answered (a closed loop, as Slack and Discord sending to one app as fast as it answers): the acknowledgement latency of each.
/// </summary>
public static class Senders
{
    /// <param name="requests">In the order they are to be taken.</param>
    /// <param name="send">Sends one request and returns the status of its answer (a failure to connect counts as 0).</param>
    public static async Task<IReadOnlyList<Acknowledgement>> RunAsync<T>(IReadOnlyList<T> requests, int senders, Func<T, CancellationToken, Task<HttpStatusCode>> send,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var answered = new Acknowledgement[requests.Count];
        var next = -1;
        var began = time.GetTimestamp();
        async Task SenderAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Count)
            {
                var sentAt = time.GetElapsedTime(began).TotalMilliseconds;
                var started = time.GetTimestamp();
                HttpStatusCode status;
                try
                {
                    status = await send(requests[i], cancellationToken);
                }
                catch (HttpRequestException)
                {
                    status = 0;
                }
                answered[i] = new Acknowledgement(sentAt, time.GetElapsedTime(started).TotalMilliseconds, status);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, senders).Select(_ => Task.Run(SenderAsync, cancellationToken)));
        return answered;
    }
}
