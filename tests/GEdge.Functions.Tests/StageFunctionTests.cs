using System.Text.Json;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Functions.Gateway;
using GEdge.Functions.Hosting;
using GEdge.Functions.Infer;
using GEdge.Functions.Postprocess;
using GEdge.Functions.Preprocess;
using GEdge.Gateway;
using GEdge.Hosting;
using GEdge.JobTable;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace GEdge.Functions.Tests;

/// <summary>
/// The four CloudEvents functions, called directly with real requests: each hands its event to its own stage (a recording
/// stand-in here) and writes the stage's reply as the response, in binary mode, so a Knative Broker can route it.
/// </summary>
public sealed class StageFunctionTests
{
    public static TheoryData<string, ContentMode> FunctionsAndModes()
    {
        var data = new TheoryData<string, ContentMode>();
        foreach (var name in s_functions.Keys)
        {
            data.Add(name, ContentMode.Binary);
            data.Add(name, ContentMode.Structured);
        }

        return data;
    }

    public static TheoryData<string> Functions() => [.. s_functions.Keys];

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task AnEventFromASenderWithoutTheClustersCredential_Gets401_AndNoStageIsCalled(string function)
    {
        var under = s_functions[function];
        var stages = new Stages();
        foreach (var authorization in new[] { "", "Bearer not-the-cluster-token-0123456789abcdef" })
        {
            var http = await FunctionCalls.EventRequestAsync(under.Receives, ContentMode.Binary);
            http.Request.Headers.Authorization = authorization;

            await FunctionCalls.ExecuteAsync(await under.Call(stages.Subscribers, http.Request), http);

            Assert.Equal(StatusCodes.Status401Unauthorized, http.Response.StatusCode);
            Assert.Equal("Bearer", http.Response.Headers.WWWAuthenticate.ToString());
        }

        Assert.All(GEdgeTriggers.All, trigger => Assert.Empty(stages.Of(trigger).Received));
    }

    [Fact]
    public async Task ThePublicGateway_WhichTakesNoEvents_AnswersEveryEventFunction404_AndCallsNothing()
    {
        var stages = new Stages();
        var functions = new GatewayFunctions(stages.Subscribers, null!, null!, null!, null!, Options.Create(new GatewayOptions { EventEndpoints = false }));
        foreach (var call in new Func<HttpRequest, Task<IActionResult>>[]
        {
            request => functions.IntakeAsync(request, CancellationToken.None),
            request => functions.DeadLetterAsync(request, CancellationToken.None),
            request => functions.SweepAsync(request, CancellationToken.None),
        })
        {
            var http = await FunctionCalls.EventRequestAsync(s_functions["intake"].Receives, ContentMode.Binary);

            await FunctionCalls.ExecuteAsync(await call(http.Request), http);

            Assert.Equal(StatusCodes.Status404NotFound, http.Response.StatusCode);
        }

        Assert.All(GEdgeTriggers.All, trigger => Assert.Empty(stages.Of(trigger).Received));
    }

    [Theory]
    [MemberData(nameof(FunctionsAndModes))]
    public async Task AnEvent_InEitherMode_GoesToTheFunctionsOwnStage_AndItsReplyIsWrittenInBinaryMode(string function, ContentMode mode)
    {
        var under = s_functions[function];
        var stages = new Stages();
        var http = await FunctionCalls.EventRequestAsync(under.Receives, mode);

        var result = await under.Call(stages.Subscribers, http.Request);
        await FunctionCalls.ExecuteAsync(result, http);

        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        var received = Assert.Single(stages.Of(under.Trigger).Received);
        Assert.Equal(under.Receives.Id, received.Id);
        Assert.Equal(under.Receives.Type, received.Type);
        Assert.Equal(under.Receives[GEdgeEvents.JobStatusAttribute], received[GEdgeEvents.JobStatusAttribute]);
        Assert.All(GEdgeTriggers.All.Where(t => t.Subscriber != under.Trigger.Subscriber), other => Assert.Empty(stages.Of(other).Received));

        Assert.Equal("application/json", http.Response.ContentType);
        Assert.Equal("1.0", FunctionCalls.Header(http, "ce-specversion"));
        Assert.Equal(GEdgeEvents.JobStatusChangedType, FunctionCalls.Header(http, "ce-type"));
        Assert.Equal($"job-7-{under.RepliesWith}-0", FunctionCalls.Header(http, "ce-id"));
        Assert.Equal(under.RepliesWith.ToString(), FunctionCalls.Header(http, "ce-jobstatus"));
        Assert.Equal("7", FunctionCalls.Header(http, "ce-jobid"));
        Assert.Equal("/gedge/tests", FunctionCalls.Header(http, "ce-source"));
        Assert.Equal($$"""{"jobId":7,"status":"{{under.RepliesWith}}"}""", FunctionCalls.ResponseText(http));
        var reply = await FunctionCalls.ReplyAsync(http);
        Assert.Equal(new JobStatusChanged(7, under.RepliesWith), GEdgeEvents.ReadJobStatusChanged(reply));
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task AnEventTheStageDoesNotAnswer_Gets202WithNoBody(string function)
    {
        var under = s_functions[function];
        var stages = new Stages(answer: _ => null);
        var http = await FunctionCalls.EventRequestAsync(under.Receives, ContentMode.Binary);

        await FunctionCalls.ExecuteAsync(await under.Call(stages.Subscribers, http.Request), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        Assert.Equal(string.Empty, FunctionCalls.ResponseText(http));
        Assert.Null(FunctionCalls.Header(http, "ce-id"));
        Assert.Single(stages.Of(under.Trigger).Received);
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task ARequestWithoutACloudEvent_Gets400NamingWhatIsMissing_AndNoStageIsCalled(string function)
    {
        var under = s_functions[function];
        var stages = new Stages();
        var logs = new FakeLoggerProvider();
        // JSON, but neither binary mode (no ce-specversion) nor structured mode (not application/cloudevents+json).
        var http = FunctionCalls.RawRequest("""{"jobId":7,"status":"Enqueue"}""", "application/json", logs: logs);

        await IntegrationPipeline.InvokeAsync(http, () => under.Call(stages.Subscribers, http.Request), logs);

        Assert.Equal(StatusCodes.Status400BadRequest, http.Response.StatusCode);
        Assert.Equal("application/problem+json", http.Response.ContentType);
        var problem = JsonDocument.Parse(FunctionCalls.ResponseText(http)).RootElement;
        Assert.Equal("Malformed CloudEvent", problem.GetProperty("title").GetString());
        Assert.Equal(
            "The request has no 'ce-specversion' header (binary mode) and its Content-Type 'application/json' is not application/cloudevents+json (structured mode).",
            problem.GetProperty("detail").GetString());
        Assert.Equal("MissingSpecVersion", problem.GetProperty("reason").GetString());
        Assert.All(GEdgeTriggers.All, trigger => Assert.Empty(stages.Of(trigger).Received));
        Assert.Contains(logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning && e.Message.Contains("MissingSpecVersion", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task AStructuredEventWithoutAnId_Gets400_AndNoStageIsCalled(string function)
    {
        var under = s_functions[function];
        var stages = new Stages();
        var logs = new FakeLoggerProvider();
        var http = FunctionCalls.RawRequest(
            """{"specversion":"1.0","type":"dev.gedge.job.status.changed","source":"/x","data":{"jobId":7,"status":"Enqueue"}}""",
            "application/cloudevents+json",
            logs: logs);

        await IntegrationPipeline.InvokeAsync(http, () => under.Call(stages.Subscribers, http.Request), logs);

        Assert.Equal(StatusCodes.Status400BadRequest, http.Response.StatusCode);
        Assert.Equal("MissingAttribute", JsonDocument.Parse(FunctionCalls.ResponseText(http)).RootElement.GetProperty("reason").GetString());
        Assert.All(GEdgeTriggers.All, trigger => Assert.Empty(stages.Of(trigger).Received));
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task AStageThatFails_MakesA500_SoTheBrokerDeliversTheEventAgain(string function)
    {
        var under = s_functions[function];
        var stages = new Stages(answer: _ => throw new InvalidOperationException("the job table is unreachable"));
        var logs = new FakeLoggerProvider();
        var http = await FunctionCalls.EventRequestAsync(under.Receives, ContentMode.Binary, logs);

        await IntegrationPipeline.InvokeAsync(http, () => under.Call(stages.Subscribers, http.Request), logs);

        Assert.Equal(StatusCodes.Status500InternalServerError, http.Response.StatusCode);
        var problem = JsonDocument.Parse(FunctionCalls.ResponseText(http)).RootElement;
        Assert.Equal("HandlerFailed", problem.GetProperty("reason").GetString());
        // The sender learns nothing of the inside; the log has it all, with the event's id.
        Assert.DoesNotContain("unreachable", problem.GetRawText(), StringComparison.Ordinal);
        var error = Assert.Single(logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Error);
        Assert.Contains(under.Receives.Id!, error.Message, StringComparison.Ordinal);
        Assert.Equal("the job table is unreachable", error.Exception?.Message);
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public async Task AnEventWhoseDataTheStageRejects_Gets400_SoTheBrokerDoesNotRetryIt(string function)
    {
        var under = s_functions[function];
        var stages = new Stages(answer: _ => throw new InvalidEventException("The job status changed event needs a positive 'jobId'."));
        var logs = new FakeLoggerProvider();
        var http = await FunctionCalls.EventRequestAsync(under.Receives, ContentMode.Binary, logs);

        await IntegrationPipeline.InvokeAsync(http, () => under.Call(stages.Subscribers, http.Request), logs);

        Assert.Equal(StatusCodes.Status400BadRequest, http.Response.StatusCode);
        var problem = JsonDocument.Parse(FunctionCalls.ResponseText(http)).RootElement;
        Assert.Equal("InvalidEvent", problem.GetProperty("reason").GetString());
        Assert.Equal("The job status changed event needs a positive 'jobId'.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AFunctionThatSucceeds_PassesThroughTheFailureMiddlewareUntouched()
    {
        var under = s_functions["preprocess"];
        var stages = new Stages();
        var logs = new FakeLoggerProvider();
        var http = await FunctionCalls.EventRequestAsync(under.Receives, ContentMode.Binary, logs);

        await IntegrationPipeline.InvokeAsync(http, () => under.Call(stages.Subscribers, http.Request), logs);

        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        Assert.Equal("Preprocessing_complete", FunctionCalls.Header(http, "ce-jobstatus"));
        Assert.DoesNotContain(logs.Collector.GetSnapshot(), e => e.Level >= LogLevel.Warning);
    }

    private static readonly Dictionary<string, FunctionUnderTest> s_functions = new()
    {
        ["preprocess"] = new(
            GEdgeTriggers.Preprocess,
            GEdgeEvents.CreateSegmentStatusChanged(7, 0, JobStatus.Enqueue, 0, FunctionCalls.Source),
            JobStatus.Preprocessing_complete,
            (subscribers, request) => new PreprocessFunction(subscribers).RunAsync(request, CancellationToken.None)),
        ["infer"] = new(
            GEdgeTriggers.Infer,
            GEdgeEvents.CreateSegmentStatusChanged(7, 0, JobStatus.Preprocessing_complete, 0, FunctionCalls.Source),
            JobStatus.Inferencing_complete,
            (subscribers, request) => new InferFunction(subscribers).RunAsync(request, CancellationToken.None)),
        ["postprocess"] = new(
            GEdgeTriggers.Postprocess,
            GEdgeEvents.CreateSegmentStatusChanged(7, 0, JobStatus.Inferencing_complete, 0, FunctionCalls.Source),
            JobStatus.Exit,
            (subscribers, request) => new PostprocessFunction(subscribers).RunAsync(request, CancellationToken.None)),
        ["intake"] = new(
            GEdgeTriggers.Intake,
            GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "alice/clip.mp4", "etag-1", 1234), FunctionCalls.Source),
            JobStatus.Enqueue,
            // The gateway's other functions are not called here; they get no collaborators.
            (subscribers, request) => new GatewayFunctions(subscribers, null!, null!, null!, null!, Options.Create(new GatewayOptions())).IntakeAsync(request, CancellationToken.None)),
    };

    /// <summary>A function, the trigger whose events it takes, one such event, and the status its stage replies with.</summary>
    private sealed record FunctionUnderTest(
        EventTrigger Trigger,
        CloudEvent Receives,
        JobStatus RepliesWith,
        Func<EventSubscribers, HttpRequest, Task<IActionResult>> Call);

    /// <summary>A recording stand-in on every trigger, replying as the real stage would (or as told), so a test sees which one was called.</summary>
    private sealed class Stages
    {
        // One per function, as one JobStage takes every trigger of its function (the first also cuts, the last joins).
        private readonly Dictionary<string, RecordingSubscriber> _bySubscriber = [];

        public Stages(Func<CloudEvent, CloudEvent?>? answer = null)
        {
            foreach (var (_, function) in s_functions)
            {
                _bySubscriber[function.Trigger.Subscriber] = new RecordingSubscriber(
                    answer ?? (_ => GEdgeEvents.CreateJobStatusChanged(7, function.RepliesWith, 0, FunctionCalls.Source)));
            }

            Subscribers = new EventSubscribers(GEdgeTriggers.All.Select(t => new Subscription(t, _bySubscriber[t.Subscriber])));
        }

        public EventSubscribers Subscribers { get; }

        public RecordingSubscriber Of(EventTrigger trigger) => _bySubscriber[trigger.Subscriber];
    }
}
