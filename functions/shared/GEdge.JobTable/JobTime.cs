using System.Globalization;

namespace GEdge.JobTable;

/// <summary>How times are written into a job hash: UTC, ISO 8601 round-trip format ("O").</summary>
internal static class JobTime
{
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset? Parse(string? text) =>
        string.IsNullOrEmpty(text)
            ? null
            : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
