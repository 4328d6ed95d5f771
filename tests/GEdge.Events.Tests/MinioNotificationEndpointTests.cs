using System.Net;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.Events.AspNetCore;
using GEdge.JobTable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Events.Tests;

/// <summary>The MinIO webhook endpoint over real HTTP, with a recording intake and broker.</summary>
public sealed class MinioNotificationEndpointTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);

    [Fact]
    public async Task ANotificationForAVideo_HandsExactlyOneVideoUploadedToTheIntake_AndPublishesItsReply()
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json("alice/clip%20one.mp4", size: 1234)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var uploaded = Assert.Single(gateway.Intake.Received);
        Assert.Equal(GEdgeEvents.VideoUploadedType, uploaded.Type);
        Assert.Equal(new VideoUploaded("alice", "videos", "alice/clip one.mp4", "eb52f8e46f60a27a8a1a704e25757f30", 1234), GEdgeEvents.ReadVideoUploaded(uploaded));
        Assert.Equal("job-1-Enqueue-0", Assert.Single(gateway.Broker.Published).Id);
    }

    [Theory]
    [InlineData("alice%2Fclip+one.mp4", "alice/clip one.mp4")]
    [InlineData("alice%2Fsummer+%282024%29+a%2Bb.mov", "alice/summer (2024) a+b.mov")]
    [InlineData("alice%2Fcaf%C3%A9.mkv", "alice/café.mkv")]
    public async Task AKeyEncodedAsMinioEncodesIt_ReachesTheIntakeDecoded(string encodedKey, string key)
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json(encodedKey)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(key, GEdgeEvents.ReadVideoUploaded(Assert.Single(gateway.Intake.Received)).Key);
    }

    [Fact]
    public async Task AMultipartUpload_StartsAJobLikeASinglePut()
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(
            MinioNotificationBody.Json("alice%2Fbig.mp4", eventName: "s3:ObjectCreated:CompleteMultipartUpload", eTag: "5fc7298143efe1276d39a3466d4e255f-12")));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("videos/alice/big.mp4@5fc7298143efe1276d39a3466d4e255f-12", Assert.Single(gateway.Intake.Received).Id);
    }

    [Fact]
    public async Task TheSameNotificationDeliveredThreeTimes_ReachesTheIntakeThreeTimesAsTheSameEvent()
    {
        await using var gateway = await Gateway.StartAsync();
        var json = MinioNotificationBody.Json("alice%2Fclip.mp4");

        for (var delivery = 0; delivery < 3; delivery++)
        {
            using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(json));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        Assert.Equal(3, gateway.Intake.Received.Count);
        Assert.All(gateway.Intake.Received, e => Assert.Equal("videos/alice/clip.mp4@eb52f8e46f60a27a8a1a704e25757f30", e.Id));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-secret")]
    [InlineData("Bearer " + MinioNotificationBody.Token + "-and-more")]
    [InlineData("Basic " + MinioNotificationBody.Token)]
    [InlineData(MinioNotificationBody.Token)]
    public async Task ANotificationWithoutTheRightBearerToken_Gets401_AndStartsNothing(string? authorization)
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json("alice%2Fclip.mp4"), authorization));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Empty(gateway.Intake.Received);
        Assert.Empty(gateway.Broker.Published);
    }

    [Fact]
    public async Task WithNoTokenConfigured_EveryNotificationGets401_AndTheGapIsLogged()
    {
        await using var gateway = await Gateway.StartAsync(token: null);

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json("alice%2Fclip.mp4"), "Bearer "));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(gateway.Intake.Received);
        Assert.Contains(gateway.Host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning
            && e.Message == "Refused a MinIO notification: no token is configured (Gateway:MinioWebhook:AuthToken)");
    }

    [Theory]
    [InlineData("s3:ObjectCreated:Put", "alice%2Fnotes.txt", "Ignored s3:ObjectCreated:Put for videos/alice%2Fnotes.txt: 'alice/notes.txt' is not a video (extension 'txt')")]
    [InlineData("s3:ObjectCreated:Put", "alice%2FREADME", "Ignored s3:ObjectCreated:Put for videos/alice%2FREADME: 'alice/README' is not a video (extension '')")]
    [InlineData("s3:ObjectRemoved:Delete", "alice%2Fclip.mp4", "Ignored s3:ObjectRemoved:Delete for videos/alice%2Fclip.mp4: 's3:ObjectRemoved:Delete' does not create an object")]
    [InlineData("s3:ObjectCreated:PutTagging", "alice%2Fclip.mp4", "Ignored s3:ObjectCreated:PutTagging for videos/alice%2Fclip.mp4: 's3:ObjectCreated:PutTagging' changes the object's metadata, not its content")]
    public async Task ANotificationThatIsNotANewVideo_Gets2xxSoMinioDoesNotRetry_AndIsLoggedWithTheReason(string eventName, string encodedKey, string logged)
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json(encodedKey, eventName: eventName)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(gateway.Intake.Received);
        Assert.Contains(gateway.Host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Information && e.Message == logged);
    }

    [Theory]
    [InlineData("results", "alice%2F1%2Fannotated.mp4")]
    [InlineData("work", "jobs%2F1%2Fframes.mp4")]
    public async Task ANotificationForAnotherBucketThanTheUploads_Gets204_AndStartsNothing(string bucket, string encodedKey)
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json(encodedKey, bucket: bucket)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(gateway.Intake.Received);
        Assert.Contains(gateway.Host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Information
            && e.Message == $"Ignored s3:ObjectCreated:Put for {bucket}/{encodedKey}: only objects in the uploads bucket 'videos' start jobs");
    }

    [Fact]
    public async Task ARemovalAsMinioSendsIt_WithNoSizeOrETag_Gets204_AndStartsNothing()
    {
        await using var gateway = await Gateway.StartAsync();
        // What MinIO sends for a DELETE: the object has a key and a sequencer, nothing else.
        const string Removal = """
            {"EventName":"s3:ObjectRemoved:Delete","Key":"videos/alice/clip.mp4","Records":[{"eventVersion":"2.0","eventSource":"minio:s3",
            "awsRegion":"","eventTime":"2025-02-06T01:04:31.998Z","eventName":"s3:ObjectRemoved:Delete","userIdentity":{"principalId":"access_key"},
            "requestParameters":{"principalId":"access_key","region":"","sourceIPAddress":"192.168.1.10"},"responseElements":{"x-amz-id-2":"dd9025ba",
            "x-amz-request-id":"182178E8B3728CAC","x-minio-deployment-id":"9b3b5e6f","x-minio-origin-endpoint":"http://192.168.1.10:9000"},
            "s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"videos","ownerIdentity":{"principalId":"access_key"},
            "arn":"arn:aws:s3:::videos"},"object":{"key":"alice%2Fclip.mp4","sequencer":"182178E8B3728CAD"}},
            "source":{"host":"192.168.1.10","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7.0.83"}}]}
            """;

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(Removal));

        Assert.True(response.StatusCode == HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
        Assert.Empty(gateway.Intake.Received);
    }

    [Theory]
    [InlineData("alice%2F..%2Fbob%2Fclip.mp4", "InvalidObjectKey", "Invalid object key 'alice/../bob/clip.mp4': the key has a '.' or '..' segment.")]
    [InlineData("..%2Fclip.mp4", "InvalidObjectKey", "Invalid object key '../clip.mp4': the key has a '.' or '..' segment.")]
    [InlineData("%2Falice%2Fclip.mp4", "InvalidObjectKey", "Invalid object key '/alice/clip.mp4': the key is absolute (starts with '/').")]
    [InlineData("al+ice%2Fclip.mp4", "InvalidObjectKey", "Invalid object key 'al ice': a user name is 1-64 characters of letters, digits, '-', '_', '.' and '@'.")]
    [InlineData("clip.mp4", "InvalidEvent", "The object 'videos/clip.mp4' is not under a user's prefix ('{user}/...').")]
    [InlineData("alice%2Fclip%2.mp4", "InvalidEvent", "The object key 'alice%2Fclip%2.mp4' has a '%' at 12 that is not followed by two hex digits.")]
    public async Task ANotificationWithAnUnsafeKeyOrUser_Gets400_AndStartsNothing(string encodedKey, string reason, string detail)
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json(encodedKey)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(reason, problem.RootElement.GetProperty("reason").GetString());
        Assert.Equal(detail, problem.RootElement.GetProperty("detail").GetString());
        Assert.Empty(gateway.Intake.Received);
    }

    [Fact]
    public async Task ABodyThatIsNotANotification_Gets400()
    {
        await using var gateway = await Gateway.StartAsync();

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request("{\"EventName\":\"s3:ObjectCreated:Put\"}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("InvalidEvent", problem.RootElement.GetProperty("reason").GetString());
        Assert.Empty(gateway.Intake.Received);
    }

    [Fact]
    public async Task AnIntakeFailure_Gets500SoMinioDeliversAgain()
    {
        await using var gateway = await Gateway.StartAsync(intake: new RecordingSubscriber(_ => throw new TimeoutException("job table unreachable")));

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json("alice%2Fclip.mp4")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains(gateway.Host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Error && e.Exception is TimeoutException);
    }

    [Fact]
    public async Task ABrokerRefusingTheReply_Gets500SoMinioDeliversAgain()
    {
        await using var gateway = await Gateway.StartAsync(broker: new RecordingPublisher(new HttpRequestException("broker unavailable")));

        using var response = await gateway.Host.Client.SendAsync(MinioNotificationBody.Request(MinioNotificationBody.Json("alice%2Fclip.mp4")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Single(gateway.Intake.Received);
    }

    /// <summary>A gateway host with the MinIO endpoint, a recording intake that replies Enqueue, and a recording broker.</summary>
    private sealed class Gateway : IAsyncDisposable
    {
        private Gateway(HttpTestHost host, RecordingSubscriber intake, RecordingPublisher broker) => (Host, Intake, Broker) = (host, intake, broker);

        public HttpTestHost Host { get; }

        public RecordingSubscriber Intake { get; }

        public RecordingPublisher Broker { get; }

        public static async Task<Gateway> StartAsync(string? token = MinioNotificationBody.Token, RecordingSubscriber? intake = null, RecordingPublisher? broker = null)
        {
            intake ??= new RecordingSubscriber(_ => GEdgeEvents.CreateJobStatusChanged(1, JobStatus.Enqueue, 0, s_source));
            broker ??= new RecordingPublisher();
            var host = await HttpTestHost.StartAsync(
                app => app.MapMinioNotifications(intake),
                services => services.AddMinioNotifications().AddSingleton<IEventPublisher>(broker),
                new Dictionary<string, string?> { ["Gateway:MinioWebhook:AuthToken"] = token, ["Gateway:MinioWebhook:UploadsBucket"] = "videos" });
            return new Gateway(host, intake, broker);
        }

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }
}
