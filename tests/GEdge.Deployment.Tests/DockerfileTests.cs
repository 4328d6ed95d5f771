using System.Text.RegularExpressions;

namespace GEdge.Deployment.Tests;

/// <summary>
/// The container builds, checked against the tree (no Docker engine runs here): one Dockerfile per function app, every
/// file it copies from the build context and every project it publishes exists, and only the infer image is a CUDA one.
/// </summary>
public sealed partial class DockerfileTests
{
    public static TheoryData<string> FunctionApps => new(AppNames());

    [Fact]
    public void EveryFunctionApp_IsOneOfTheFourStages() =>
        Assert.Equal(["GEdge.Functions.Gateway", "GEdge.Functions.Infer", "GEdge.Functions.Postprocess", "GEdge.Functions.Preprocess"], AppNames());

    private static string[] AppNames() => Directory.GetDirectories(Path.Combine(Repository.Root, "functions"), "GEdge.Functions.*", SearchOption.AllDirectories)
        .Where(folder => File.Exists(Path.Combine(folder, "host.json")))
        .Select(folder => Path.GetFileName(folder))
        .Order(StringComparer.Ordinal)
        .ToArray();

    // functions/STAGE/GEdge.Functions.NAME: each app sits beside its stage's library.
    private static string AppFolder(string app) =>
        Assert.Single(Directory.GetDirectories(Path.Combine(Repository.Root, "functions"), app, SearchOption.AllDirectories));

    [Theory]
    [MemberData(nameof(FunctionApps))]
    public void Dockerfile_CopiesOnlyWhatExists_AndPublishesItsOwnApp(string app)
    {
        var dockerfile = Path.Combine(AppFolder(app), "Dockerfile");
        Assert.True(File.Exists(dockerfile), $"{app} has no Dockerfile");
        var lines = File.ReadAllLines(dockerfile);

        var copied = 0;
        foreach (var line in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[1..^1])
            {
                var path = Path.Combine(Repository.Root, source.TrimEnd('/'));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{app}'s Dockerfile copies {source}, which is not in the repository");
                copied++;
            }
        }

        Assert.True(copied > 0, $"{app}'s Dockerfile copies nothing from the build context");
        var published = Assert.Single(lines.Select(l => PublishedProject().Match(l)), m => m.Success).Groups["project"].Value;
        Assert.Equal($"{Path.GetRelativePath(Repository.Root, AppFolder(app)).Replace('\\', '/')}/{app}.csproj", published);
        Assert.True(File.Exists(Path.Combine(Repository.Root, published)), $"{published} does not exist");
    }

    // GEdge.Media starts the ffmpeg binary (FfmpegProcess); an app that reaches it through its project references runs
    // ffmpeg (Preprocess and Postprocess, and Infer since it decodes the compact frames), so its image must install it.
    [Theory]
    [MemberData(nameof(FunctionApps))]
    public void AnImageWhoseAppRunsFfmpeg_InstallsIt(string app)
    {
        var runsFfmpeg = ReferencedProjects(Path.Combine(AppFolder(app), app + ".csproj")).Any(p => Path.GetFileName(p) == "GEdge.Media.csproj");
        var installs = AptInstall().Matches(File.ReadAllText(Path.Combine(AppFolder(app), "Dockerfile")))
            .Any(m => m.Groups["packages"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("ffmpeg"));

        Assert.True(runsFfmpeg == installs, $"{app} {(runsFfmpeg ? "runs" : "does not run")} ffmpeg but its image {(installs ? "installs" : "does not install")} it");
    }

    // Every project a project reaches through its ProjectReferences, itself included.
    private static HashSet<string> ReferencedProjects(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (seen.Add(next))
            {
                foreach (Match reference in ProjectReference().Matches(File.ReadAllText(next)))
                {
                    pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, reference.Groups["path"].Value)));
                }
            }
        }

        return seen;
    }

    [GeneratedRegex(@"<ProjectReference Include=""(?<path>[^""]+)""")]
    private static partial Regex ProjectReference();

    [GeneratedRegex(@"apt-get install -y --no-install-recommends (?<packages>[^\\\n&]+)")]
    private static partial Regex AptInstall();

    [Theory]
    [MemberData(nameof(FunctionApps))]
    public void OnlyTheInferImage_IsBuiltOnCuda(string app)
    {
        var text = File.ReadAllText(Path.Combine(AppFolder(app), "Dockerfile"));

        Assert.Equal(app == "GEdge.Functions.Infer", text.Contains("nvidia/cuda", StringComparison.Ordinal));
    }

    [Fact]
    public void TheInferImage_WhichCopiesTheFunctionsHostIn_SetsTheEnvironmentTheHostsOwnImageSets()
    {
        // The dotnet-isolated host image's ENV (Azure/azure-functions-docker, host/4/bookworm/amd64/dotnet/
        // dotnet-isolated): the other three images are built on it and inherit these; infer is built on CUDA's image.
        string[] hostImageEnvironment =
        [
            "AzureWebJobsScriptRoot=/home/site/wwwroot", "HOME=/home", "FUNCTIONS_WORKER_RUNTIME=dotnet-isolated",
            "DOTNET_USE_POLLING_FILE_WATCHER=true", "ASPNETCORE_CONTENTROOT=/azure-functions-host",
            "AzureWebJobsFeatureFlags=EnableWorkerIndexing",
        ];
        var text = File.ReadAllText(Path.Combine(AppFolder("GEdge.Functions.Infer"), "Dockerfile"));
        var set = EnvironmentSetting().Matches(text).Select(m => m.Groups["setting"].Value).ToHashSet(StringComparer.Ordinal);

        Assert.All(hostImageEnvironment, setting => Assert.Contains(setting, set));
    }

    [Theory]
    [MemberData(nameof(FunctionApps))]
    public void EveryImage_ListensOn8080_AsANumericNonRootUser_WhoOwnsWhatTheHostWrites(string app)
    {
        // What `func deploy` and knative/services.yaml run: runAsNonRoot (which the kubelet can check only against a
        // numeric USER) and port 8080 (root alone binds under 1024).
        var text = File.ReadAllText(Path.Combine(AppFolder(app), "Dockerfile"));
        var settings = EnvironmentSetting().Matches(text).Select(m => m.Groups["setting"].Value).ToList();
        Assert.Equal("ASPNETCORE_URLS=http://+:8080", settings.Last(s => s.StartsWith("ASPNETCORE_URLS=", StringComparison.Ordinal)));
        var user = Assert.Single(UserLine().Matches(text)).Groups["user"].Value;
        Assert.True(int.TryParse(user, System.Globalization.CultureInfo.InvariantCulture, out var uid) && uid > 0, $"{app} runs as '{user}', not a numeric non-root user");
        Assert.Contains($"chown -R {uid}:{uid} /azure-functions-host /home", text, StringComparison.Ordinal);
        Assert.True(text.LastIndexOf("USER ", StringComparison.Ordinal) > text.LastIndexOf("COPY --from=build", StringComparison.Ordinal), $"{app}: USER must come after the app is copied in and chowned");
    }

    [GeneratedRegex(@"^USER\s+(?<user>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex UserLine();

    // NAME=VALUE on an ENV line or its continuations.
    [GeneratedRegex(@"^(?:ENV\s+|\s+)(?<setting>[A-Za-z_][A-Za-z0-9_]*=\S+?)(?:\s+\\)?$", RegexOptions.Multiline)]
    private static partial Regex EnvironmentSetting();

    [GeneratedRegex(@"dotnet publish (?<project>\S+\.csproj)")]
    private static partial Regex PublishedProject();
}
