using System.Net.Mime;
using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Events.Tests;

public sealed class GEdgeEventsTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);
    private readonly JsonEventFormatter _formatter = new();

    [Fact]
    public void JobStatusChanged_CarriesTheStatusAsAnExtensionAttribute_AndSurvivesTheWire()
    {
        var sent = GEdgeEvents.CreateJobStatusChanged(42, JobStatus.Preprocessing_complete, 1, s_source);

        var received = RoundTrip(sent);

        Assert.Equal("Preprocessing_complete", received[GEdgeEvents.JobStatusAttribute]);
        Assert.Equal("42", received[GEdgeEvents.JobIdAttribute]);
        Assert.Equal(GEdgeEvents.JobStatusChangedType, received.Type);
        Assert.Equal("jobs/42", received.Subject);
        Assert.Equal("job-42-Preprocessing_complete-1", received.Id);
        Assert.Equal(new JobStatusChanged(42, JobStatus.Preprocessing_complete), GEdgeEvents.ReadJobStatusChanged(received));
    }

    [Fact]
    public void VideoUploaded_HasAnIdMadeOfTheObjectsIdentity_SoARepeatedUploadIsTheSameEvent()
    {
        var upload = new VideoUploaded("alice", "uploads", "alice/u1/clip one.mp4", "etag-1", 1234);

        var first = GEdgeEvents.CreateVideoUploaded(upload, s_source);
        var again = GEdgeEvents.CreateVideoUploaded(upload, s_source);

        Assert.Equal(first.Id, again.Id);
        Assert.Equal(upload, GEdgeEvents.ReadVideoUploaded(RoundTrip(first)));
    }

    [Fact]
    public void ReadJobStatusChanged_WhenTheAttributeAndTheDataDisagree_Throws()
    {
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(7, JobStatus.Enqueue, 0, s_source);
        cloudEvent[GEdgeEvents.JobStatusAttribute] = nameof(JobStatus.Inferencing_complete);

        var error = Assert.Throws<InvalidEventException>(() => GEdgeEvents.ReadJobStatusChanged(cloudEvent));
        Assert.Contains("jobstatus", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"jobId\":7}", "status")]
    [InlineData("{\"jobId\":0,\"status\":\"Enqueue\"}", "jobId")]
    [InlineData("{\"jobId\":\"seven\",\"status\":\"Enqueue\"}", "not valid")]
    public void ReadJobStatusChanged_WhenTheDataIsWrong_ThrowsNamingTheProblem(string data, string named)
    {
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0, GEdgeEvents.ExtensionAttributes)
        {
            Id = "x",
            Source = s_source,
            Type = GEdgeEvents.JobStatusChangedType,
            DataContentType = "application/json",
            Data = Encoding.UTF8.GetBytes(data),
        };
        cloudEvent[GEdgeEvents.JobStatusAttribute] = "Enqueue";

        var error = Assert.Throws<InvalidEventException>(() => GEdgeEvents.ReadJobStatusChanged(cloudEvent));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadVideoUploaded_WhenTheTypeIsAnother_Throws() =>
        Assert.Throws<InvalidEventException>(() =>
            GEdgeEvents.ReadVideoUploaded(GEdgeEvents.CreateJobStatusChanged(1, JobStatus.Enqueue, 0, s_source)));

    private CloudEvent RoundTrip(CloudEvent cloudEvent)
    {
        var body = _formatter.EncodeStructuredModeMessage(cloudEvent, out var contentType);
        return _formatter.DecodeStructuredModeMessage(body, contentType, GEdgeEvents.ExtensionAttributes);
    }
}
