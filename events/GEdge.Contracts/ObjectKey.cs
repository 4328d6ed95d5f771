using System.Text;

namespace GEdge.Contracts;

/// <summary>
/// Validation of bucket names and object keys. Keys never come from user input unchecked: a key is a sequence of
/// '/'-separated segments, none empty, none '.' or '..', no backslashes or control characters, so that no key can
/// name a path outside its bucket or another user's prefix.
/// </summary>
public static class ObjectKey
{
    /// <summary>The longest key accepted, in UTF-8 bytes (S3's limit).</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>The longest file name kept when a key is built from a user's file name.</summary>
    public const int MaxFileNameLength = 120;

    /// <summary>Throws <see cref="InvalidObjectKeyException"/> unless <paramref name="key"/> is a safe relative key.</summary>
    public static string Validate(string key)
    {
        var reason = Check(key);
        return reason is null ? key : throw new InvalidObjectKeyException(key, reason);
    }

    /// <summary>Why <paramref name="key"/> is not a safe key, or null when it is.</summary>
    public static string? Check(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "the key is empty";
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            return $"the key is longer than {MaxKeyBytes} bytes";
        }

        if (key[0] == '/')
        {
            return "the key is absolute (starts with '/')";
        }

        foreach (var c in key)
        {
            if (c == '\\')
            {
                return "the key contains a backslash";
            }

            if (char.IsControl(c))
            {
                return "the key contains a control character";
            }
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "the key has an empty segment ('//' or a trailing '/')";
            }

            if (segment is "." or "..")
            {
                return "the key has a '.' or '..' segment";
            }
        }

        return null;
    }

    /// <summary>Throws unless <paramref name="bucket"/> is a valid S3 bucket name (3-63 of a-z, 0-9, '-', '.').</summary>
    public static string ValidateBucket(string bucket)
    {
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        var valid = bucket.Length is >= 3 and <= 63
            && (char.IsAsciiLetterLower(bucket[0]) || char.IsAsciiDigit(bucket[0]))
            && !bucket.Contains("..", StringComparison.Ordinal);
        foreach (var c in bucket)
        {
            valid &= char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.';
        }

        return valid ? bucket : throw new InvalidObjectKeyException(bucket, "a bucket name is 3-63 characters of a-z, 0-9, '-' and '.'");
    }

    /// <summary>Throws unless <paramref name="user"/> can stand as one key segment (a user's prefix).</summary>
    public static string ValidateUser(string user)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var valid = user.Length <= 64 && user is not ("." or "..");
        foreach (var c in user)
        {
            valid &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@';
        }

        return valid ? user : throw new InvalidObjectKeyException(user, "a user name is 1-64 characters of letters, digits, '-', '_', '.' and '@'");
    }

    /// <summary>
    /// A key under <paramref name="user"/>'s prefix for an uploaded file: <c>{user}/{uploadId}/{name}</c>, where the
    /// name keeps only the last segment of what the user sent, with anything unsafe replaced, so a hostile file name
    /// (<c>../../x</c>, an absolute path, control characters, a very long name) stays inside the user's prefix.
    /// </summary>
    public static string ForUpload(string user, string uploadId, string fileName)
    {
        ValidateUser(user);
        ArgumentException.ThrowIfNullOrEmpty(uploadId);
        return Validate($"{user}/{uploadId}/{SafeFileName(fileName)}");
    }

    /// <summary>
    /// The last segment of a client-supplied file name, reduced to safe characters and to at most
    /// <see cref="MaxFileNameLength"/> of them; a long name is cut before its extension, which names the container.
    /// </summary>
    public static string SafeFileName(string? fileName)
    {
        var name = (fileName ?? string.Empty).Replace('\\', '/');
        name = name[(name.LastIndexOf('/') + 1)..];
        var extension = System.IO.Path.GetExtension(name);
        var hasExtension = extension.Length is >= 2 and <= 16;
        if (hasExtension && name.AsSpan(0, name.Length - extension.Length).Trim(" .").IsEmpty)
        {
            // Nothing but dots or blanks before the extension (".mp4", " .mp4"): the extension names the container and
            // becomes the job's type, so it stays, behind a stem of its own, instead of being trimmed into the stem.
            name = "video" + extension;
        }

        if (!hasExtension || name.Length <= MaxFileNameLength)
        {
            extension = string.Empty;
        }

        var stem = name[..(name.Length - extension.Length)];
        var safe = new StringBuilder(MaxFileNameLength);
        foreach (var c in stem)
        {
            if (safe.Length == MaxFileNameLength - extension.Length)
            {
                break;
            }

            safe.Append(Safe(c));
        }

        foreach (var c in extension)
        {
            safe.Append(Safe(c));
        }

        var result = safe.ToString().Trim().TrimStart('.');
        return result.Length == 0 ? "video" : result;

        static char Safe(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ' ' ? c : '_';
    }
}

/// <summary>A bucket, key or user name that is not safe to use as storage address.</summary>
public sealed class InvalidObjectKeyException(string key, string reason)
    : ArgumentException($"Invalid object key '{Printable(key)}': {reason}.")
{
    /// <summary>Why the key was refused.</summary>
    public string Reason { get; } = reason;

    private static string Printable(string key)
    {
        var shown = key.Length > 80 ? key[..80] + "…" : key;
        var builder = new StringBuilder(shown.Length);
        foreach (var c in shown)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
