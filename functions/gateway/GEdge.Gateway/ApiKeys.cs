using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace GEdge.Gateway;

/// <summary>
/// API keys: 32 random bytes shown as <c>gedge_</c> followed by base64url. The gateway keeps only a key's SHA-256 (lowercase
/// hex of the whole key string), so its configuration can be read without giving anyone a key.
/// </summary>
public static class ApiKeys
{
    /// <summary>What every key starts with, so a key is recognisable in a file or a leak scanner's report.</summary>
    public const string Prefix = "gedge_";

    /// <summary>How many random bytes a key carries.</summary>
    public const int RandomBytes = 32;

    /// <summary>A new random key.</summary>
    public static string New() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(RandomBytes));

    /// <summary>The hash the gateway is configured with for <paramref name="key"/>: lowercase hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Hash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }

    /// <summary>Whether <paramref name="hash"/> has the shape of <see cref="Hash"/>'s output (64 hex digits).</summary>
    public static bool IsHash(string? hash) =>
        hash is { Length: 64 } && hash.All(char.IsAsciiHexDigit);
}
