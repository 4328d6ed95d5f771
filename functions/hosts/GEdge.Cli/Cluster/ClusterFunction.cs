using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.Hosting;
using GEdge.Infer;
using GEdge.Postprocess;
using GEdge.Preprocess;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Cli.Cluster;

/// <summary>
/// A function of G-Edge as <c>gedge function NAME</c> runs it: its Knative Service name, what it adds to a function
/// process (the same call its Azure Functions app's Program.cs makes), and its endpoints besides the probes.
/// </summary>
internal sealed record ClusterFunction(string Name, Func<IServiceCollection, IServiceCollection> AddServices, Action<WebApplication> MapEndpoints)
{
    // What each stage adds to its process; its name, trigger and endpoint follow from PipelineTopology.
    private static readonly Dictionary<PipelineStage, Func<IServiceCollection, IServiceCollection>> s_stages = new()
    {
        [PipelineTopology.Preprocess] = services => services.AddPreprocessStage(),
        [PipelineTopology.Infer] = services => services.AddInferStage(),
        [PipelineTopology.Postprocess] = services => services.AddPostprocessStage(),
    };

    /// <summary>Uploads, 'video uploaded' events, MinIO notifications, the jobs API, the dashboard and the dead-letter sink.</summary>
    public static ClusterFunction Gateway { get; } = new("gateway", services => services.AddGateway(), app => app.MapGateway());

    /// <summary>Every function: the gateway, then the stages in pipeline order.</summary>
    public static IReadOnlyList<ClusterFunction> All { get; } =
    [
        Gateway,
        .. PipelineTopology.Stages.Select(stage => new ClusterFunction(stage.Name, s_stages[stage], app => app.MapStageFunction(stage))),
    ];

    /// <summary>The function a Knative Service name names; null for none.</summary>
    public static ClusterFunction? Named(string name) => All.FirstOrDefault(function => function.Name == name);

    /// <inheritdoc />
    public override string ToString() => Name;
}
