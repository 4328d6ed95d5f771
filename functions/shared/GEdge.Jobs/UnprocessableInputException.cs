namespace GEdge.Jobs;

/// <summary>Input that no retry will fix (not a video, an unsupported codec): the job ends at once, with this reason.</summary>
public sealed class UnprocessableInputException(string reason, Exception? inner = null) : Exception(reason, inner);
