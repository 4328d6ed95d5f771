using System.Runtime.CompilerServices;
using System.Text.Json;
using GEdge.Events;
using GEdge.Events.AspNetCore;
using GEdge.Functions.Hosting;
using GEdge.Hosting;
using GEdge.JobTable;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace GEdge.Functions.Tests;

/// <summary>What every app shares: its routes as Knative reaches them, its probes, its configuration, its failure middleware.</summary>
public sealed class FunctionAppTests
{
    public static TheoryData<string> Apps() => ["GEdge.Functions.Gateway", "GEdge.Functions.Preprocess", "GEdge.Functions.Infer", "GEdge.Functions.Postprocess"];

    [Theory]
    [MemberData(nameof(Apps))]
    public void EveryAppsHostJson_ServesRoutesFromTheSiteRoot_NotUnderApi(string app)
    {
        using var hostJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(RepositoryRoot(), "functions"), app, SearchOption.AllDirectories)), "host.json")));

        Assert.Equal("2.0", hostJson.RootElement.GetProperty("version").GetString());
        Assert.Equal(string.Empty, hostJson.RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString());
    }

    [Fact]
    public void TheGatewaysRoutes_AreTheOnesItsOtherHostsMap()
    {
        Assert.Equal(EventEndpointRouteBuilderExtensions.MinioNotificationsPattern, "/" + FunctionRoutes.MinioNotifications);
    }

    [Fact]
    public void Liveness_Answers200()
    {
        var result = Assert.IsType<ContentResult>(ProbeFunctions.Liveness(new DefaultHttpContext().Request));

        Assert.Equal((StatusCodes.Status200OK, "alive\n"), (result.StatusCode, result.Content));
    }

    [Fact]
    public async Task Metrics_AnswersTheAppsSeriesInPrometheusTextFormat()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["JobTable:ConnectionString"] = "localhost:1" }).Build();
        await using var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging().AddGEdgeFunction(configuration).BuildServiceProvider();
        services.GetRequiredService<GEdge.Metrics.GEdgeMetrics>().UploadRefused(GEdge.Metrics.UploadRefusal.TooLarge);
        var context = new DefaultHttpContext { RequestServices = services };
        using var body = new MemoryStream();
        context.Response.Body = body;

        Assert.IsType<EmptyResult>(await MetricsFunctions.MetricsAsync(context.Request));

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", context.Response.ContentType);
        var samples = GEdge.Testing.MetricSamples.Parse(System.Text.Encoding.UTF8.GetString(body.ToArray()));
        Assert.Equal(1, samples["gedge_uploads_refused_total{reason=\"too_large\"}"]);
        Assert.Equal(0, samples["gedge_job_transitions_total{status=\"Enqueue\"}"]);
        Assert.Contains("process_working_set_bytes", samples.Series);
    }

    [Fact]
    public async Task Readiness_Answers503WithTheReason_WhileTheSubscribersCannotBeBuilt()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<Subscription>(_ => throw new InvalidOperationException("No models folder with manifests was found."));
        services.AddSingleton<EventSubscribers>();
        services.AddFunctionProbes();
        await using var provider = services.BuildServiceProvider();

        var result = await new ProbeFunctions(provider).ReadinessAsync(new DefaultHttpContext().Request, CancellationToken.None);

        var answer = Assert.IsType<ContentResult>(result);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, answer.StatusCode);
        Assert.Contains("subscribers: Unhealthy: could not be built: No models folder with manifests was found.\n", answer.Content, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAppWithoutAJobTableConnectionString_FailsItsStart_NamingTheSetting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:S3:Endpoint"] = "http://minio:9000" }).Build();
        using var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddGEdgeFunction(configuration).BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<JobTableOptions>>().Value);

        Assert.Equal("JobTable:ConnectionString is not set: a function needs the cluster's Redis server, which it shares with the others.", Assert.Single(failure.Failures));
    }

    [Fact]
    public void ASubscriberForATriggerTheAppDoesNotServe_IsRefusedNamingWhatItHas()
    {
        var subscribers = new EventSubscribers([new Subscription(GEdgeTriggers.Infer, new RecordingSubscriber(_ => null))]);

        var failure = Assert.Throws<InvalidOperationException>(() => subscribers.For(GEdgeTriggers.Preprocess));

        Assert.Equal("This function app has no subscriber on trigger 'gedge-preprocess'; it has 'gedge-infer'.", failure.Message);
    }

    [Fact]
    public async Task AFailureAfterTheResponseHasStarted_IsLeftToTheHost()
    {
        var http = FunctionCalls.RawRequest(string.Empty, contentType: null);
        http.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>(new StartedResponse());

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            IntegrationPipeline.InvokeAsync(http, () => throw new InvalidOperationException("the reply could not be written"), new FakeLoggerProvider()));

        Assert.Equal("the reply could not be written", failure.Message);
    }

    [Fact]
    public async Task AFailureOfAFunctionWithoutAnHttpRequest_IsLeftToTheHost()
    {
        var middleware = new EventFailureMiddleware(NullLogger<EventFailureMiddleware>.Instance);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            middleware.Invoke(new IntegrationPipeline.InvocationContext(http: null), _ => throw new InvalidOperationException("a timer function failed")));

        Assert.Equal("a timer function failed", failure.Message);
    }

    // The checkout this file was compiled from: the host.json files are checked where they are written, not in an output
    // folder, where the four apps' copies land on one another.
    private static string RepositoryRoot([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", ".."));

    private sealed class StartedResponse : Microsoft.AspNetCore.Http.Features.HttpResponseFeature
    {
        public override bool HasStarted => true;
    }
}
