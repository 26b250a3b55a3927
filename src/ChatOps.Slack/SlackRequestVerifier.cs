using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ChatOps.Slack;

/// <summary>
/// Slack's request signing: <c>X-Slack-Signature</c> must be <c>v0=</c> + hex HMAC-SHA256(signing secret,
/// <c>v0:{X-Slack-Request-Timestamp}:{raw body}</c>), and the timestamp within five minutes of now, either way.
/// </summary>
public sealed class SlackRequestVerifier
{
    /// <summary>Slack's replay window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    private const string Version = "v0";
    private readonly byte[] _secret;
    private readonly TimeProvider _time;

    /// <param name="signingSecret">The app's signing secret, used as UTF-8 text (Slack does not encode it).</param>
    public SlackRequestVerifier(string signingSecret, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(signingSecret);
        ArgumentNullException.ThrowIfNull(time);
        _secret = Encoding.UTF8.GetBytes(signingSecret);
        _time = time;
    }

    /// <summary>Null when the request is Slack's; otherwise why not (safe to log: it never contains the secret).</summary>
    public string? Problem(string? timestamp, string? signature, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(timestamp))
            return "no X-Slack-Request-Timestamp header";
        if (string.IsNullOrEmpty(signature))
            return "no X-Slack-Signature header";
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return "X-Slack-Request-Timestamp is not Unix seconds";
        var age = _time.GetUtcNow().ToUnixTimeSeconds() - seconds;
        if (Math.Abs(age) > (long)Window.TotalSeconds)
            return age > 0 ? $"the timestamp is {age} s old (replay window {Window.TotalSeconds:0} s)"
                           : $"the timestamp is {-age} s in the future (replay window {Window.TotalSeconds:0} s)";
        if (!signature.StartsWith(Version + "=", StringComparison.Ordinal))
            return "X-Slack-Signature is not v0=<hex>";

        byte[] given;
        try
        {
            given = Convert.FromHexString(signature.AsSpan(Version.Length + 1));
        }
        catch (FormatException)
        {
            return "X-Slack-Signature is not v0=<hex>";
        }
        return CryptographicOperations.FixedTimeEquals(given, Compute(timestamp, body)) ? null : "the signature does not match";
    }

    /// <summary>The <c>X-Slack-Signature</c> value Slack would send: what a fake Slack or a test signs with.</summary>
    public static string Sign(string signingSecret, string timestamp, ReadOnlySpan<byte> body) =>
        Version + "=" + Convert.ToHexStringLower(Hmac(Encoding.UTF8.GetBytes(signingSecret), timestamp, body));

    private byte[] Compute(string timestamp, ReadOnlySpan<byte> body) => Hmac(_secret, timestamp, body);

    private static byte[] Hmac(byte[] key, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{Version}:{timestamp}:");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return HMACSHA256.HashData(key, message);
    }
}
