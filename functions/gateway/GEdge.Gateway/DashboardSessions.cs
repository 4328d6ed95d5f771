using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using GEdge.JobTable;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.Gateway;

/// <summary>
/// The dashboard's sessions. Signing in with an API key opens one: a random token the browser keeps in the HttpOnly
/// <see cref="ApiKeyAuthentication.SessionCookieName"/> cookie, so the long-lived key itself is never stored in the
/// browser. The job table's Redis keeps, under the token's SHA-256, the hash of the key it was opened with, for
/// <see cref="GatewayOptions.SessionLifetime"/>: every gateway replica sees the same sessions, a session expires on its
/// own, signing out deletes it at once, and removing its key from the configuration ends every session opened with it.
/// </summary>
public sealed class DashboardSessions(
    IConnectionMultiplexer redis, IOptions<JobTableOptions> jobTable, IOptionsMonitor<GatewayOptions> gateway, ApiKeyDirectory keys)
{
    /// <summary>What every session token starts with, so one is never mistaken for an API key.</summary>
    public const string TokenPrefix = "gedge_session_";

    /// <summary>How long a session lasts.</summary>
    public TimeSpan Lifetime => gateway.CurrentValue.SessionLifetime;

    /// <summary>Opens a session for the holder of <paramref name="key"/>, a key <see cref="ApiKeyDirectory"/> takes; returns its token.</summary>
    public async Task<string> OpenAsync(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var token = TokenPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(ApiKeys.RandomBytes));
        await redis.GetDatabase().StringSetAsync(StoredAs(token), ApiKeys.Hash(key), Lifetime).ConfigureAwait(false);
        return token;
    }

    /// <summary>The user of a session that is open and whose key is still configured; null otherwise.</summary>
    public async Task<string?> UserOfAsync(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var keyHash = await redis.GetDatabase().StringGetAsync(StoredAs(token)).ConfigureAwait(false);
        return keyHash.IsNullOrEmpty ? null : keys.UserOfHash(keyHash.ToString());
    }

    /// <summary>Ends a session now (signing out); ending one that is not open does nothing.</summary>
    public async Task CloseAsync(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        await redis.GetDatabase().KeyDeleteAsync(StoredAs(token)).ConfigureAwait(false);
    }

    // Under the token's hash, so a read of the table gives no one a session.
    private RedisKey StoredAs(string token) =>
        $"{jobTable.Value.KeyPrefix}:sessions:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))}";
}
