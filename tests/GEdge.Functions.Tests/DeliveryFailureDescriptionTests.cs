using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Functions.Tests;

/// <summary>How a dead letter's Knative error extensions read in the job's error field.</summary>
public sealed class DeliveryFailureDescriptionTests
{
    [Fact]
    public void TheAnswer_IsDecodedFromBase64_AsKnativeSendsIt()
    {
        var deadLetter = DeadLetter(code: "502", data: Convert.ToBase64String("Bad Gateway: no healthy upstream"u8));

        Assert.Equal(
            "delivery to http://preprocess.gedge.svc.cluster.local failed with HTTP 502: Bad Gateway: no healthy upstream",
            DeliveryFailureRecorder.DescribeFailure(deadLetter));
    }

    [Fact]
    public void AnAnswerThatIsNotBase64_IsTakenAsItIs()
    {
        var deadLetter = DeadLetter(code: "500", data: "Internal Server Error: Failed to process event.");

        Assert.Equal(
            "delivery to http://preprocess.gedge.svc.cluster.local failed with HTTP 500: Internal Server Error: Failed to process event.",
            DeliveryFailureRecorder.DescribeFailure(deadLetter));
    }

    [Fact]
    public void ALongAnswer_IsCutAfter300Characters()
    {
        var deadLetter = DeadLetter(code: "500", data: Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(new string('x', 1000))));

        var description = DeliveryFailureRecorder.DescribeFailure(deadLetter);

        Assert.Equal("delivery to http://preprocess.gedge.svc.cluster.local failed with HTTP 500: " + new string('x', 300) + "…", description);
    }

    [Fact]
    public void AnEventWithoutKnativesExtensions_SaysWhatIsUnknown()
    {
        var deadLetter = GEdgeEvents.CreateJobStatusChanged(3, JobStatus.Enqueue, 0, FunctionCalls.Source);

        Assert.Equal("delivery to an unknown destination failed (no status code)", DeliveryFailureRecorder.DescribeFailure(deadLetter));
    }

    private static CloudEvent DeadLetter(string code, string data)
    {
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(3, JobStatus.Enqueue, 0, FunctionCalls.Source);
        cloudEvent[DeadLetterAttributes.ErrorDestination] = "http://preprocess.gedge.svc.cluster.local";
        cloudEvent[DeadLetterAttributes.ErrorCode] = code;
        cloudEvent[DeadLetterAttributes.ErrorData] = data;
        return cloudEvent;
    }
}
