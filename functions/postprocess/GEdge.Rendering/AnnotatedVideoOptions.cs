namespace GEdge.Rendering;

/// <summary>How the annotated video is encoded; bound from the <c>Rendering</c> configuration section.</summary>
public sealed record AnnotatedVideoOptions
{
    /// <summary>The configuration section these options are read from.</summary>
    public const string SectionName = "Rendering";

    /// <summary>
    /// libx264 speed preset. <c>veryfast</c>: the Postprocess function runs on shared CPU nodes and a job waits for it, so
    /// encoding speed matters more than the last few percent of file size. On 720p it encodes several times faster than
    /// <c>medium</c> at the same CRF, and the files are still small next to the upload.
    /// </summary>
    public string Preset { get; init; } = "veryfast";

    /// <summary>
    /// x264 constant rate factor (0-51, lower is better). 23 is x264's own default: boxes and 12-px labels stay sharp, and
    /// the file is about the size of a typical camera upload.
    /// </summary>
    public int ConstantRateFactor { get; init; } = 23;

    /// <summary>Bitrate of the AAC track when the source's audio codec cannot be copied into MP4.</summary>
    public int AacBitrateKbps { get; init; } = 192;
}
