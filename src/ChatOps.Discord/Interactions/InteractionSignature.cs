using System.Text;
using NSec.Cryptography;

namespace ChatOps.Discord.Interactions;

/// <summary>
/// Discord's proof that an interaction came from Discord: an Ed25519 signature (<c>X-Signature-Ed25519</c>, hex) over the
/// UTF-8 bytes of <c>X-Signature-Timestamp</c> followed by the raw body, checked against the application's public key.
/// </summary>
public sealed class InteractionSignature
{
    private readonly PublicKey _key;

    /// <param name="publicKeyHex">The application's public key, 64 hex digits.</param>
    public InteractionSignature(string publicKeyHex)
    {
        if (!TryHex(publicKeyHex, out var raw) || raw.Length != 32)
            throw new ArgumentException("Discord:PublicKey is not 64 hex digits: copy it from the Developer Portal (General Information → Public Key).", nameof(publicKeyHex));
        _key = PublicKey.Import(SignatureAlgorithm.Ed25519, raw, KeyBlobFormat.RawPublicKey);
    }

    /// <summary>True only when both headers are present and the signature holds for exactly these bytes.</summary>
    public bool Verify(string? signatureHex, string? timestamp, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(signatureHex) || string.IsNullOrEmpty(timestamp) || !TryHex(signatureHex, out var signature) || signature.Length != 64)
            return false;
        var stamp = Encoding.UTF8.GetBytes(timestamp);
        var signed = new byte[stamp.Length + body.Length];
        stamp.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(stamp.Length));
        return SignatureAlgorithm.Ed25519.Verify(_key, signed, signature);
    }

    private static bool TryHex(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromHexString(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }
}
