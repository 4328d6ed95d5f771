using System.Runtime.CompilerServices;
using GEdge.Media;
using GEdge.Vision;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace GEdge.Rendering.Tests;

public sealed class AnnotatedVideoWriterTests : IDisposable
{
    private readonly TempFolder _scratch = new();
    private readonly AnnotatedVideoWriter _writer = new(Options.Create(new AnnotatedVideoOptions()), NullLogger<AnnotatedVideoWriter>.Instance);

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Write_Road_KeepsSizeFrameRateFrameCountAndAacAudio()
    {
        var output = _scratch.PathOf("road-annotated.mp4");

        var result = await _writer.WriteAsync(TestVideos.Road, Overlays(EveryFrame(38, 2)), output);

        var original = await MediaTools.StreamsAsync(TestVideos.Road);
        var annotated = await MediaTools.StreamsAsync(output);
        var sourceVideo = Assert.Single(original, s => s.Type == "video");
        var video = Assert.Single(annotated, s => s.Type == "video");
        Assert.Equal(("h264", 1280, 720, "25/1", "yuv420p"), (video.Codec, video.Width, video.Height, video.FrameRate, video.PixelFormat));
        Assert.Equal(38, sourceVideo.FrameCount);
        Assert.Equal(sourceVideo.FrameCount, video.FrameCount);
        Assert.Equal("aac", Assert.Single(annotated, s => s.Type == "audio").Codec);
        Assert.Equal("bt709", video.ColorSpace);
        Assert.Equal((output, 1280, 720, 38), (result.Path, result.Width, result.Height, result.FrameCount));
        Assert.Equal("25/1", result.FrameRate.ToString());
    }

    [Fact]
    public async Task Write_OddSizedSilentClip_KeepsItsExactSizeRationalRateAndFrameCountWithNoAudio()
    {
        var source = await TestVideos.PatternAsync(_scratch, 333, 187, "30000/1001");
        var output = _scratch.PathOf("odd-annotated.mp4");

        await _writer.WriteAsync(source, Overlays(new FrameOverlay(3, [new Detection(0, "person", 0.9f, new BoundingBox(10, 30, 100, 80))])), output);

        var original = await MediaTools.VideoAsync(source);
        var annotatedStreams = await MediaTools.StreamsAsync(output);
        var video = Assert.Single(annotatedStreams);
        Assert.Equal("video", video.Type);
        Assert.Equal((333, 187, "30000/1001"), (video.Width, video.Height, video.FrameRate));
        Assert.Equal(30, original.FrameCount);
        Assert.Equal(original.FrameCount, video.FrameCount);

        // H.264 cannot code an odd size in 4:2:0; 4:4:4 keeps the exact size.
        Assert.Equal("yuv444p", video.PixelFormat);
    }

    [Fact]
    public async Task Write_RotatedPhoneVideo_ComesOutUprightWithWidthAndHeightSwapped()
    {
        var source = await TestVideos.RotatedAsync(_scratch);
        var output = _scratch.PathOf("portrait-annotated.mp4");

        var result = await _writer.WriteAsync(source, Overlays(new FrameOverlay(0, [new Detection(0, "person", 0.9f, new BoundingBox(20, 200, 100, 100))])), output);

        // ffmpeg turns the frames upright while decoding, so boxes are drawn in the picture the viewer sees.
        var video = await MediaTools.VideoAsync(output);
        Assert.Equal((240, 320, 25), (video.Width, video.Height, video.FrameCount));
        Assert.Equal((240, 320), (result.Width, result.Height));
    }

    [Fact]
    public async Task Write_AudioMp4CannotHold_ReencodesItToAac()
    {
        var source = await TestVideos.WithPcmAudioAsync(_scratch);
        var output = _scratch.PathOf("pcm-annotated.mp4");

        await _writer.WriteAsync(source, Overlays(), output);

        var streams = await MediaTools.StreamsAsync(output);
        Assert.Equal("pcm_s16le", Assert.Single(await MediaTools.StreamsAsync(source), s => s.Type == "audio").Codec);
        Assert.Equal("aac", Assert.Single(streams, s => s.Type == "audio").Codec);
        Assert.Equal(25, Assert.Single(streams, s => s.Type == "video").FrameCount);
    }

    [Fact]
    public async Task Write_DetectionOnOneFrame_DrawsItsBoxThereAndLeavesEverythingElseAsDecoded()
    {
        var source = await TestVideos.PatternAsync(_scratch, 640, 360, "25");
        var output = _scratch.PathOf("pattern-annotated.mp4");
        var box = new BoundingBox(200, 120, 240, 160);

        await _writer.WriteAsync(source, Overlays(new FrameOverlay(10, [new Detection(7, "truck", 0.87f, box)])), output);

        var colour = ClassPalette.ColorOf(7);
        var painted = await MediaTools.DecodeFrameAsync(output, 10);
        var original = await MediaTools.DecodeFrameAsync(source, 10);

        // The middle of the 2-px left and bottom edges: inside the outline on both sides after 4:2:0 chroma subsampling.
        var edge = new List<SKColor>();
        for (var y = 160; y < 240; y++)
        {
            edge.Add(Pixel(painted, 640, 200, y));
            edge.Add(Pixel(painted, 640, 201, y));
        }

        for (var x = 240; x < 400; x++)
        {
            edge.Add(Pixel(painted, 640, x, 279));
        }

        Assert.True(MeanDistance(edge, colour) <= 24, $"the box edge averages {MeanDistance(edge, colour):F1} away from the class colour {colour}");

        // Far from the box and its tag, the frame is the original frame up to the encoder's loss.
        var far = MeanAbsoluteDifference(painted, original, 640, 360, (x, y) => y >= 300 || x < 150 || x >= 490);
        Assert.True(far <= 2.0, $"pixels far from the box differ from the original by {far:F2} on average");

        // A frame without detections is the original frame up to the encoder's loss, colours included (BT.709 kept).
        var untouched = MeanAbsoluteDifference(await MediaTools.DecodeFrameAsync(output, 9), await MediaTools.DecodeFrameAsync(source, 9), 640, 360, (_, _) => true);
        Assert.True(untouched <= 2.0, $"an unpainted frame differs from the original by {untouched:F2} on average");
    }

    [Fact]
    public async Task Write_ReportsProgressOnceForEveryFrameInOrder()
    {
        var source = await TestVideos.PatternAsync(_scratch, 160, 120, "25");
        var reported = new List<int>();

        await _writer.WriteAsync(source, Overlays(), _scratch.PathOf("progress.mp4"), new ImmediateProgress(reported.Add));

        Assert.Equal(Enumerable.Range(1, 25), reported);
    }

    [Fact]
    public async Task Write_WhenCancelled_StopsBothFfmpegProcessesAndLeavesNoOutput()
    {
        var source = _scratch.PathOf("road.mp4");
        File.Copy(TestVideos.Road, source);
        var outputFolder = Directory.CreateDirectory(_scratch.PathOf("out"));
        var output = Path.Combine(outputFolder.FullName, "cancelled.mp4");
        using var cancellation = new CancellationTokenSource();

        // After frame 0 the detections stall like a hung storage read; only cancellation can end the write.
        var writing = _writer.WriteAsync(source, StallAfterFirstFrame(), output, new ImmediateProgress(_ => cancellation.Cancel()), cancellationToken: cancellation.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writing.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Empty(outputFolder.EnumerateFileSystemInfos());

        // The decoder's command line names the source, the encoder's the output: both live under the scratch folder.
        Assert.Empty(FfmpegProcessesWorkingOn(_scratch.Path));
    }

    [Fact]
    public async Task Write_WhenTheEncoderDies_ThrowsNamingTheEncoderAndItsExit()
    {
        var outputFolder = Directory.CreateDirectory(_scratch.PathOf("out"));
        var output = Path.Combine(outputFolder.FullName, "crashed.mp4");

        var failure = await Assert.ThrowsAsync<MediaException>(() =>
            _writer.WriteAsync(TestVideos.Road, KillEncoderAt(5, outputFolder.FullName), output));

        Assert.Equal(MediaErrorKind.ProcessFailed, failure.Kind);
        Assert.Equal("encoder", failure.Process);
        Assert.Equal(137, failure.ExitCode); // 128 + SIGKILL
        Assert.StartsWith("The ffmpeg encoder exited with code 137 while annotating", failure.Message, StringComparison.Ordinal);
        Assert.Empty(outputFolder.EnumerateFileSystemInfos());
    }

    [Fact]
    public async Task Write_DetectionsPastTheLastFrame_AreRejectedAndLeaveNoOutput()
    {
        var source = await TestVideos.PatternAsync(_scratch, 160, 120, "25");
        var outputFolder = Directory.CreateDirectory(_scratch.PathOf("out"));

        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => _writer.WriteAsync(
            source, Overlays(new FrameOverlay(25, [new Detection(0, "person", 0.5f, new BoundingBox(1, 1, 10, 10))])), Path.Combine(outputFolder.FullName, "x.mp4")));

        Assert.Equal($"The detections name frame 25, but {source} decodes to 25 frames: they belong to another video.", failure.Message);
        Assert.Empty(outputFolder.EnumerateFileSystemInfos());
    }

    [Fact]
    public async Task Write_DetectionsOutOfOrder_AreRejected()
    {
        var source = await TestVideos.PatternAsync(_scratch, 160, 120, "25");

        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => _writer.WriteAsync(
            source, Overlays(new FrameOverlay(4, []), new FrameOverlay(2, [])), _scratch.PathOf("x.mp4")));

        Assert.Equal("The detections must list frames in ascending order, each once; frame 2 came after frame 4.", failure.Message);
    }

    [Fact]
    public async Task Write_MissingSource_SaysWhichFile()
    {
        var missing = _scratch.PathOf("missing.mp4");

        var failure = await Assert.ThrowsAsync<FileNotFoundException>(() => _writer.WriteAsync(missing, Overlays(), _scratch.PathOf("x.mp4")));

        Assert.Equal($"The video to annotate, {missing}, does not exist.", failure.Message);
    }

    [Fact]
    public async Task Write_OutputOverTheSource_IsRejectedBeforeAnythingRuns()
    {
        var source = _scratch.PathOf("road.mp4");
        File.Copy(TestVideos.Road, source);

        await Assert.ThrowsAsync<ArgumentException>(() => _writer.WriteAsync(source, Overlays(), source));

        Assert.Equal(new FileInfo(TestVideos.Road).Length, new FileInfo(source).Length);
    }

    [Fact]
    public async Task Join_PiecesCutAtKeyframes_MakeOneEvenlyTimedVideoWithTheOriginalsFramesSizeRateAndAudio()
    {
        // 20 s at 30000/1001 with a keyframe every 2 s and a tone: cut into pieces of about 6 s, each annotated alone.
        var original = _scratch.PathOf("ntsc-with-tone.mp4");
        await MediaTools.FfmpegAsync(
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001:duration=20", "-f", "lavfi", "-i", "sine=frequency=440:duration=20",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", original);
        var media = await VideoProbe.AnalyseAsync(original);
        var cuts = await VideoSegmenter.CutAsync(media, TimeSpan.FromSeconds(6), _scratch.PathOf("cuts"));
        Assert.True(cuts.Count >= 3, $"{cuts.Count} pieces");
        var pieces = new List<AnnotatedPiece>();
        var frames = 0;
        foreach (var cut in cuts)
        {
            var piece = await _writer.WriteAsync(cut.Path, Overlays(), _scratch.PathOf($"annotated-{cut.Index}.mp4"), frameRate: media.FrameRate);
            Assert.Equal("30000/1001", piece.FrameRate.ToString());
            pieces.Add(new AnnotatedPiece(piece.Path, piece.FrameCount));
            frames += piece.FrameCount;
        }

        var joined = await _writer.JoinAsync(original, pieces, _scratch.PathOf("joined.mp4"));

        var streams = await MediaTools.StreamsAsync(joined.Path);
        var video = Assert.Single(streams, s => s.Type == "video");
        Assert.Equal((320, 240, "30000/1001", 600), (video.Width, video.Height, video.FrameRate, video.FrameCount));
        Assert.Equal((600, 600), (frames, joined.FrameCount));
        Assert.Equal("aac", Assert.Single(streams, s => s.Type == "audio").Codec);
        var times = await MediaTools.FrameTimesAsync(joined.Path);
        Assert.Equal(600, times.Count);
        for (var i = 0; i < times.Count; i++)
        {
            // Evenly spaced at 1001/30000 s across every join: no gap, no repeat, no drift.
            Assert.Equal(i * 1001 / 30000.0, times[i], 5);
        }
    }

    [Fact]
    public void ConcatList_GivesEachPieceItsExactDuration_WithoutRoundingPiling()
    {
        var list = FfmpegCommands.ConcatList(
            [new AnnotatedPiece("/a/0.mp4", 300), new AnnotatedPiece("/a/1.mp4", 266), new AnnotatedPiece("/a/it's.mp4", 191)], new FrameRate(30000, 1001));

        Assert.Equal(
            "ffconcat version 1.0\nfile '/a/0.mp4'\nduration 10010000us\nfile '/a/1.mp4'\nduration 8875533us\nfile '/a/it'\\''s.mp4'\nduration 6373034us\n",
            list);
    }

    [Fact]
    public void Constructor_UnknownPreset_IsRejectedWithTheKnownOnes()
    {
        var failure = Assert.Throws<ArgumentException>(() =>
            new AnnotatedVideoWriter(Options.Create(new AnnotatedVideoOptions { Preset = "quick" }), NullLogger<AnnotatedVideoWriter>.Instance));

        Assert.StartsWith("Rendering:Preset is 'quick'; libx264 knows ultrafast, superfast, veryfast,", failure.Message, StringComparison.Ordinal);
    }

    private static FrameOverlay[] EveryFrame(int frames, int classId)
    {
        var overlays = new FrameOverlay[frames];
        for (var i = 0; i < frames; i++)
        {
            overlays[i] = new FrameOverlay(i, [new Detection(classId, "car", 0.8f, new BoundingBox(100 + (i * 10), 300, 200, 120))]);
        }

        return overlays;
    }

    private static IAsyncEnumerable<FrameOverlay> Overlays(params FrameOverlay[] overlays) => overlays.ToAsyncEnumerable();

    private static async IAsyncEnumerable<FrameOverlay> StallAfterFirstFrame([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return new FrameOverlay(0, []);
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield return new FrameOverlay(1, []);
    }

    private static async IAsyncEnumerable<FrameOverlay> KillEncoderAt(int frame, string outputFolder)
    {
        yield return new FrameOverlay(0, []);
        foreach (var pid in FfmpegProcessesWorkingOn(outputFolder))
        {
            System.Diagnostics.Process.GetProcessById(pid).Kill();
        }

        await Task.Yield();
        yield return new FrameOverlay(frame, []);
    }

    // The encoder is the ffmpeg whose command line names the output folder (its partial file lives there).
    private static List<int> FfmpegProcessesWorkingOn(string folder)
    {
        var pids = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains("ffmpeg", StringComparison.Ordinal) && commandLine.Contains(folder, StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process ended while being looked at.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return pids;
    }

    private static SKColor Pixel(byte[] bgra, int width, int x, int y)
    {
        var i = ((y * width) + x) * 4;
        return new SKColor(bgra[i + 2], bgra[i + 1], bgra[i]);
    }

    private static double MeanDistance(List<SKColor> pixels, SKColor colour)
    {
        var total = 0.0;
        foreach (var pixel in pixels)
        {
            total += (Math.Abs(pixel.Red - colour.Red) + Math.Abs(pixel.Green - colour.Green) + Math.Abs(pixel.Blue - colour.Blue)) / 3.0;
        }

        return total / pixels.Count;
    }

    private static double MeanAbsoluteDifference(byte[] a, byte[] b, int width, int height, Func<int, int, bool> where)
    {
        Assert.Equal(width * height * 4, a.Length);
        Assert.Equal(a.Length, b.Length);
        var (total, count) = (0L, 0L);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                if (!where(x, y))
                {
                    continue;
                }

                var i = ((y * width) + x) * 4;
                total += Math.Abs(a[i] - b[i]) + Math.Abs(a[i + 1] - b[i + 1]) + Math.Abs(a[i + 2] - b[i + 2]);
                count += 3;
            }
        }

        return (double)total / count;
    }

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, so the test sees every value in order.</summary>
    private sealed class ImmediateProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
