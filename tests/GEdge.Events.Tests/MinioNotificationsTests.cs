namespace GEdge.Events.Tests;

/// <summary>The pure mapping of MinIO notifications: key decoding, and which records start a job.</summary>
public sealed class MinioNotificationsTests
{
    [Theory]
    [InlineData("alice/clip.mp4", "alice/clip.mp4")]
    [InlineData("alice%2Fclip+one.mp4", "alice/clip one.mp4")]
    [InlineData("alice/clip%20one.mp4", "alice/clip one.mp4")]
    [InlineData("alice%2Fa%2Bb.mp4", "alice/a+b.mp4")]
    [InlineData("alice%2F100%25.mp4", "alice/100%.mp4")]
    [InlineData("alice%2Fcaf%C3%A9.mp4", "alice/café.mp4")]
    [InlineData("alice/café.mp4", "alice/café.mp4")]
    public void UnescapeObjectKey_DecodesWhatGoQueryEscapeProduces(string escaped, string key) =>
        Assert.Equal(key, MinioNotifications.UnescapeObjectKey(escaped));

    [Theory]
    [InlineData("alice%2", "The object key 'alice%2' has a '%' at 5 that is not followed by two hex digits.")]
    [InlineData("alice%zz.mp4", "The object key 'alice%zz.mp4' has a '%' at 5 that is not followed by two hex digits.")]
    [InlineData("alice%2F%FF.mp4", "The object key 'alice%2F%FF.mp4' does not decode to UTF-8.")]
    public void UnescapeObjectKey_RefusesWhatGoQueryUnescapeRefuses(string escaped, string message) =>
        Assert.Equal(message, Assert.Throws<InvalidEventException>(() => MinioNotifications.UnescapeObjectKey(escaped)).Message);

    [Fact]
    public void Parse_ReadsTheDocumentedPutExample()
    {
        var notification = MinioNotifications.Parse(System.Text.Encoding.UTF8.GetBytes(MinioNotificationBody.Json("alice%2Fclip.mp4")));

        Assert.Equal("s3:ObjectCreated:Put", notification.EventName);
        var record = Assert.Single(notification.Records);
        Assert.Equal(new MinioObject("alice%2Fclip.mp4", 84452, "eb52f8e46f60a27a8a1a704e25757f30"), record.S3.StoredObject);
        Assert.Equal("videos", record.S3.Bucket.Name);
    }

    [Theory]
    [InlineData("{\"Records\":[{\"eventName\":\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"videos\"},\"object\":{\"key\":null}}}]}")]
    [InlineData("{\"Records\":[{\"eventName\":\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"videos\"}}}]}")]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\"}")]
    [InlineData("[]")]
    [InlineData("not json")]
    public void Parse_RefusesABodyThatIsNotANotification(string json) =>
        Assert.StartsWith("The body is not a MinIO notification: ", Assert.Throws<InvalidEventException>(() => MinioNotifications.Parse(System.Text.Encoding.UTF8.GetBytes(json))).Message, StringComparison.Ordinal);

    [Fact]
    public void Map_ARecordWithoutAnETag_IsRefused_SinceOneUploadMustMakeOneJob()
    {
        var record = new MinioEventRecord("s3:ObjectCreated:Put", new MinioS3Entity(new MinioBucket("videos"), new MinioObject("alice%2Fclip.mp4", 10, null)));

        Assert.Equal("The record for 'videos/alice/clip.mp4' has no 's3.object.eTag'.", Assert.Throws<InvalidEventException>(() => MinioNotifications.Map(record, "videos")).Message);
    }

    [Theory]
    [InlineData("alice/clip.MP4", true)]
    [InlineData("alice/u1/clip.webm", true)]
    [InlineData("alice/clip.ts", true)]
    [InlineData("alice/clip.3gp", true)]
    [InlineData("alice/notes.txt", false)]
    [InlineData("alice/mp4", false)]
    [InlineData("alice.mp4/readme", false)]
    public void VideoFileTypes_DecideByTheExtensionOfTheLastSegment(string key, bool isVideo) =>
        Assert.Equal(isVideo, VideoFileTypes.IsVideo(key));
}
