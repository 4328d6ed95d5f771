using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Metrics;
using GEdge.Testing;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Gateway.Tests;

/// <summary>
/// Uploads the gateway must not take, or must take only safely: too large (413), not a video (415), and hostile file
/// names, whose objects must land under the uploader's own prefix. A refused upload leaves nothing stored and no job.
/// </summary>
public sealed class UploadSafetyTests(GatewayServer server) : IClassFixture<GatewayServer>
{
    [Fact]
    public async Task AnUpload_WhoseContentLengthIsOverTheLimit_Answers413_BeforeAnythingIsStored()
    {
        using var grace = server.ClientOf("grace");
        using var body = new ByteArrayContent(await OversizeVideoAsync());

        using var response = await grace.PostAsync("api/jobs?name=big.mp4", body);

        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, "grace");
    }

    [Fact]
    public async Task AnUpload_WithNoLength_ThatGrowsPastTheLimit_Answers413_AndItsPartialObjectIsDropped()
    {
        using var grace = server.ClientOf("grace");
        // No Content-Length: sent chunked, so only counting the bytes as they come can catch it.
        using var body = new StreamContent(new UnseekableStream(await OversizeVideoAsync()));

        using var response = await grace.PostAsync("api/jobs?name=big.mp4", body);

        Assert.Null(body.Headers.ContentLength);
        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, "grace");
    }

    [Fact]
    public async Task AMultipartUpload_OverTheLimit_Answers413()
    {
        using var grace = server.ClientOf("grace");
        using var form = new MultipartFormDataContent { { new ByteArrayContent(await OversizeVideoAsync()), "video", "big.mp4" } };

        using var response = await grace.PostAsync("api/jobs", form);

        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, "grace");
    }

    public static TheoryData<string, string, string> NonVideos => new()
    {
        { "notes.mp4", "text", "The upload is text, not a video container" },
        { "photo.mp4", "jpeg", "The upload is a JPEG image, not a video container" },
        { "empty.mp4", "empty", "The upload is empty." },
        { "noise.mkv", "noise", "The upload does not start as a video container does" },
        { "notes.txt", "mp4", "'notes.txt' is not named as a video" },
    };

    [Theory]
    [MemberData(nameof(NonVideos))]
    public async Task ANonVideo_Answers415WithTheReason_AndNothingIsStored(string name, string content, string reason)
    {
        var bytes = content switch
        {
            "text" => Encoding.UTF8.GetBytes("These are my notes for the meeting, saved with the wrong name.\n"),
            "jpeg" => await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "assets", "dog.jpg")),
            "empty" => [],
            "noise" => [.. Enumerable.Range(0, 4096).Select(i => (byte)((i * 7919) % 251 + 3))],
            _ => await Videos.HeadOfSampleAsync(),
        };

        using var response = await server.UploadAsync("heidi", name, bytes);

        var detail = await AssertRefusedAsync(response, HttpStatusCode.UnsupportedMediaType, "heidi");
        Assert.StartsWith(reason, detail, StringComparison.Ordinal);
    }

    public static TheoryData<string> HostileNames => new()
    {
        "../../x.mp4",
        "../../../../etc/cron.d/x.mp4",
        "/etc/passwd.mp4",
        "..\\..\\windows\\x.mp4",
        "..%2f..%2fx.mp4",
        "a\u0001b\nc\td.mp4",
        new string('n', 300) + ".mp4",
        "ivan/../bob/x.mp4",
        ".hidden.mp4",
        "ünïcødé clip.mp4",
        // Nothing but dots or a blank before the extension: a name of its own, and the extension still the job's type.
        ".mp4",
        "..mp4",
        "....mp4",
        " .mp4",
    };

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task AHostileName_InTheQuery_IsStoredUnderTheUploadersPrefixOnly(string name)
    {
        var before = server.StoredFiles();

        using var response = await server.UploadAsync("ivan", name, await Videos.HeadOfSampleAsync());

        await AssertStoredSafelyAsync(response, before);
    }

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task AHostileName_AsAMultipartFileName_IsStoredUnderTheUploadersPrefixOnly(string name)
    {
        var before = server.StoredFiles();
        using var ivan = server.ClientOf("ivan");
        var part = new ByteArrayContent(await Videos.HeadOfSampleAsync());
        // Set by hand, as a hostile client would: HttpClient would otherwise encode the name.
        part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"video\"", FileNameStar = name };
        using var form = new MultipartFormDataContent { part };

        using var response = await ivan.PostAsync("api/jobs", form);

        await AssertStoredSafelyAsync(response, before);
    }

    private async Task AssertStoredSafelyAsync(HttpResponseMessage response, IReadOnlyList<string> before)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var job = (await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
        var path = job.Job[JobFields.Path];
        Assert.Matches(@"^uploads/ivan/[0-9T]+-[0-9a-f]{8}/[A-Za-z0-9_\- ][A-Za-z0-9_.\- ]{0,119}$", path);
        Assert.Equal("mp4", job.Job[JobFields.Type]);
        var added = Assert.Single(server.StoredFiles().Except(before));
        Assert.Equal(path, added);
        // On disk too: the file is where the key says, inside the user's folder of the uploads bucket.
        var file = Path.GetFullPath(Path.Combine(server.Storage, added));
        Assert.StartsWith(Path.Combine(server.Storage, "uploads", "ivan") + Path.DirectorySeparatorChar, file, StringComparison.Ordinal);
        Assert.True(File.Exists(file));
        Assert.All(server.StoredFiles(), f => Assert.StartsWith("uploads/", f, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(server.Root).Select(Path.GetFileName).Except(["storage", "garnet"]));
    }

    // Refused with a problem, and nothing left: no file under the user's prefix, no job in their list.
    [Fact]
    public async Task EveryRefusedUpload_IsCountedUnderItsReason_AndAnAcceptedOneAsANewJob()
    {
        static string Refused(string reason) => $"gedge_uploads_refused_total{{reason=\"{reason}\"}}";
        var before = await MetricSamples.ReadAsync(server.Metrics);
        using var ivan = server.ClientOf("ivan");

        using (var body = new ByteArrayContent(await OversizeVideoAsync()))
        using (var response = await ivan.PostAsync("api/jobs?name=big.mp4", body))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        using (var response = await server.UploadAsync("ivan", "notes.txt", await Videos.HeadOfSampleAsync()))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }

        using (var body = new ByteArrayContent(await Videos.HeadOfSampleAsync()))
        using (var response = await ivan.PostAsync("api/jobs", body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        await server.SubmitAsync("ivan");

        var after = await MetricSamples.ReadAsync(server.Metrics);
        Assert.Equal(1, after[Refused(UploadRefusal.TooLarge)] - before[Refused(UploadRefusal.TooLarge)]);
        Assert.Equal(1, after[Refused(UploadRefusal.NotAVideo)] - before[Refused(UploadRefusal.NotAVideo)]);
        Assert.Equal(1, after[Refused(UploadRefusal.Malformed)] - before[Refused(UploadRefusal.Malformed)]);
        Assert.Equal(1, after["gedge_uploads_accepted_total"] - before["gedge_uploads_accepted_total"]);
        Assert.All(
            UploadRefusal.All.Except([UploadRefusal.TooLarge, UploadRefusal.NotAVideo, UploadRefusal.Malformed]),
            reason => Assert.Equal(before[Refused(reason)], after[Refused(reason)]));
    }

    private async Task<string> AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string user)
    {
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}{Environment.NewLine}{server.Logs.Collector.Problems()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(server.StoredFiles(), f => f.StartsWith($"uploads/{user}/", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(server.Storage, "uploads", user)), "the refused upload left its folder behind");
        using var client = server.ClientOf(user);
        Assert.Equal(0, (await client.GetFromJsonAsync("api/jobs", GatewayJsonContext.Default.JobList))!.Total);
        return problem.RootElement.GetProperty("detail").GetString()!;
    }

    // A real video's start, padded past the limit: only its size is wrong.
    private static async Task<byte[]> OversizeVideoAsync()
    {
        var video = await Videos.SampleAsync();
        var bytes = new byte[GatewayServer.MaxUploadBytes + (64 * 1024)];
        video.CopyTo(bytes, 0);
        return bytes;
    }

    /// <summary>A stream that does not tell its length, so HttpClient sends it chunked.</summary>
    private sealed class UnseekableStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
