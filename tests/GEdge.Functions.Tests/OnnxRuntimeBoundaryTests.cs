using System.Reflection;
using System.Text.Json;
using GEdge.Functions.Gateway;
using GEdge.Functions.Infer;
using GEdge.Functions.Postprocess;
using GEdge.Functions.Preprocess;

namespace GEdge.Functions.Tests;

/// <summary>
/// Only the Infer app carries ONNX Runtime (and its CUDA provider, hundreds of MB): the CPU apps' images must not. Checked
/// twice: the assemblies each app's code references, followed through G-Edge's own libraries, and the app's deps.json,
/// which lists every package its publish folder gets.
/// </summary>
public sealed class OnnxRuntimeBoundaryTests
{
    private const string OnnxRuntime = "Microsoft.ML.OnnxRuntime";

    public static TheoryData<string, bool> Apps() => new()
    {
        { "GEdge.Functions.Gateway", false },
        { "GEdge.Functions.Preprocess", false },
        { "GEdge.Functions.Postprocess", false },
        { "GEdge.Functions.Infer", true },
    };

    [Theory]
    [MemberData(nameof(Apps))]
    public void TheAssembliesAnAppReferences_IncludeOnnxRuntime_OnlyForInfer(string app, bool carriesOnnxRuntime)
    {
        var referenced = ReferenceClosure(s_apps[app]);

        Assert.Equal(carriesOnnxRuntime, referenced.Contains(OnnxRuntime));
        Assert.Equal(carriesOnnxRuntime, referenced.Contains("GEdge.Vision.Onnx"));
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public void TheLibrariesAnAppsDepsJsonLists_IncludeOnnxRuntime_OnlyForInfer(string app, bool carriesOnnxRuntime)
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, app + ".deps.json")));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(library => library.Name.Split('/')[0]).ToList();

        Assert.Contains($"{app}", libraries);
        Assert.Equal(carriesOnnxRuntime, libraries.Any(name => name.StartsWith(OnnxRuntime, StringComparison.Ordinal)));
    }

    private static readonly Dictionary<string, Assembly> s_apps = new()
    {
        ["GEdge.Functions.Gateway"] = typeof(GatewayFunctions).Assembly,
        ["GEdge.Functions.Preprocess"] = typeof(PreprocessFunction).Assembly,
        ["GEdge.Functions.Postprocess"] = typeof(PostprocessFunction).Assembly,
        ["GEdge.Functions.Infer"] = typeof(InferFunction).Assembly,
    };

    // The names of every assembly the app references, following the references of G-Edge's own assemblies (a package's
    // dependencies are in its deps.json, checked above).
    private static HashSet<string> ReferenceClosure(Assembly app)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([app]);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (names.Add(reference.Name!) && reference.Name!.StartsWith("GEdge.", StringComparison.Ordinal))
                {
                    pending.Push(Assembly.Load(reference));
                }
            }
        }

        return names;
    }
}
