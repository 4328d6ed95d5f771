using GEdge.Gateway;

namespace GEdge.Cli.Cluster;

/// <summary>
/// The local cluster's API key: serve makes one for the user <see cref="User"/>, once, in the file <c>api-key</c> of the
/// cluster's folder (readable by its owner only), reuses it on every later start, and gives the gateway only its hash.
/// Keys the environment configures (<c>Gateway__ApiKeys__N__*</c>, which the gateway inherits) stay valid beside it: the
/// local key takes the first index they leave free. <c>gedge submit</c> reads the same file when no key is given.
/// </summary>
/// <param name="Key">The key.</param>
/// <param name="Path">The key's file.</param>
/// <param name="GatewayEnvironment">What the gateway process is given: the key's user and hash.</param>
internal sealed record LocalApiKey(string Key, string Path, IReadOnlyDictionary<string, string> GatewayEnvironment)
{
    /// <summary>The user the local key belongs to.</summary>
    public const string User = "local";

    /// <summary>The name of the key's file in the cluster's folder.</summary>
    public const string FileName = "api-key";

    /// <summary>What every variable that configures the gateway's keys starts with.</summary>
    public static string EnvironmentPrefix => $"{GatewayOptions.SectionName}__{nameof(GatewayOptions.ApiKeys)}__";

    /// <summary>The key for a cluster in <paramref name="root"/>: the file's, made now if missing.</summary>
    public static LocalApiKey Resolve(string root)
    {
        var path = System.IO.Path.Combine(root, FileName);
        var key = Read(path) ?? Create(path);
        var index = FirstFreeIndex();
        return new LocalApiKey(key, path, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [$"{EnvironmentPrefix}{index}__{nameof(GatewayApiKey.User)}"] = User,
            [$"{EnvironmentPrefix}{index}__{nameof(GatewayApiKey.Sha256)}"] = ApiKeys.Hash(key),
        });
    }

    /// <summary>
    /// What serve prints once ready: the dashboard's address, with the key in the fragment (a browser never sends a
    /// fragment; the page reads it, signs in with it and removes it), and where the key is.
    /// </summary>
    public IEnumerable<string> ReadyLines(Uri gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        var shown = System.IO.Path.GetRelativePath(Environment.CurrentDirectory, Path);
        yield return $"  {"dashboard",-12} {gateway}#key={Key}";
        yield return $"  {"api key",-12} {(shown.StartsWith("..", StringComparison.Ordinal) ? Path : shown)} (user {User})";
    }

    // One past the highest index the environment's keys use, so none of them is overwritten.
    private static int FirstFreeIndex()
    {
        var free = 0;
        foreach (var name in Environment.GetEnvironmentVariables().Keys)
        {
            if (name is string variable && variable.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var rest = variable[EnvironmentPrefix.Length..];
                var end = rest.IndexOf("__", StringComparison.Ordinal);
                if (int.TryParse(end < 0 ? rest : rest[..end], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                {
                    free = Math.Max(free, index + 1);
                }
            }
        }

        return free;
    }

    /// <summary>The key in the file at <paramref name="path"/>, or null when there is none.</summary>
    public static string? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var key = File.ReadAllText(path).Trim();
        return key.Length > 0 ? key : null;
    }

    // Created with the owner's read and write bits only, before the key is written, so it is never readable by others.
    private static string Create(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var key = ApiKeys.New();
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new StreamWriter(path, System.Text.Encoding.ASCII, options))
        {
            file.WriteLine(key);
        }

        return key;
    }
}
