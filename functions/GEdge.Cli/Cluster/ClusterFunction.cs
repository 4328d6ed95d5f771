namespace GEdge.Cli.Cluster;

/// <summary>The functions of G-Edge, each a Knative Service in a cluster and a process in the local one.</summary>
internal enum ClusterFunction
{
    /// <summary>Uploads, 'video uploaded' events, MinIO notifications, the jobs API and the dead-letter sink.</summary>
    Gateway,

    /// <summary>Decode and letterbox (CPU).</summary>
    Preprocess,

    /// <summary>The detector (GPU where there is one).</summary>
    Infer,

    /// <summary>Boxes, encoding, detections and summary (CPU).</summary>
    Postprocess,
}

/// <summary>Names of the functions as the Knative manifests and the command line spell them.</summary>
internal static class ClusterFunctions
{
    /// <summary>Every function, in pipeline order.</summary>
    public static IReadOnlyList<ClusterFunction> All { get; } = Enum.GetValues<ClusterFunction>();

    /// <summary>The Knative Service name of a function (<c>infer</c>).</summary>
    public static string ServiceName(this ClusterFunction function) => function.ToString().ToLowerInvariant();

    /// <summary>The function a Knative Service name names; null for none.</summary>
    public static ClusterFunction? Parse(string name)
    {
        foreach (var function in All)
        {
            if (function.ServiceName() == name)
            {
                return function;
            }
        }

        return null;
    }
}
