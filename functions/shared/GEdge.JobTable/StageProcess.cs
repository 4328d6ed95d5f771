using System.Globalization;

namespace GEdge.JobTable;

/// <summary>
/// A process of a stage that says it runs: its stage, its worker id (<c>host/pid</c>) and what it computes on
/// (<c>cpu</c>, or Infer's execution provider: <c>cuda</c>). What an edge's capacity counts as its processes per stage.
/// </summary>
/// <param name="Stage">The stage's name (<c>infer</c>).</param>
/// <param name="Worker">The process (<c>host/pid</c>).</param>
/// <param name="Device">What it computes on.</param>
public sealed record StageProcess(string Stage, string Worker, string Device)
{
    /// <summary>A device that is a GPU.</summary>
    public bool OnGpu => !string.Equals(Device, CpuDevice, StringComparison.OrdinalIgnoreCase);

    /// <summary>The device of a process that computes on its CPU.</summary>
    public const string CpuDevice = "cpu";

    // One member of the processes' sorted set: the three fields, tab-separated (none holds a tab).
    internal string Member => string.Join('\t', Stage, Device, Worker);

    internal static StageProcess? FromMember(string member) =>
        member.Split('\t') is [var stage, var device, var worker] ? new StageProcess(stage, worker, device) : null;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Stage} on {Device} ({Worker})");
}
