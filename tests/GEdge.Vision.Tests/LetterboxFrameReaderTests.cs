using System.Globalization;
using System.Text;
using GEdge.Media;

namespace GEdge.Vision.Tests;

public sealed class LetterboxFrameReaderTests
{
    private static readonly ModelInput s_yoloxInput = new("images", 416, 416, TensorLayout.Nchw, ChannelOrder.Bgr, 1f, LetterboxPlacement.TopLeft, 114);
    private static readonly ModelInput s_yolov4Input = new("input_1:0", 416, 416, TensorLayout.Nhwc, ChannelOrder.Rgb, 1f / 255, LetterboxPlacement.Center, 128);

    [Fact]
    public void BuildFilterGraph_UsesTheTransformsExactIntegers()
    {
        var letterbox = LetterboxTransform.Create(641, 479, 416, 416, LetterboxPlacement.Center);

        var graph = LetterboxFrameReader.BuildFilterGraph(letterbox, s_yolov4Input);

        Assert.Equal("scale=416:311:flags=bilinear,format=rgb24,pad=416:416:0:52:color=0x808080,showinfo=checksum=0", graph);
    }

    [Fact]
    public void BuildArguments_PassesEveryDecodedFrameThroughOnce()
    {
        var arguments = LetterboxFrameReader.BuildArguments("in.mp4", LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.TopLeft), s_yoloxInput);

        Assert.Equal(
            "-hide_banner -nostdin -nostats -loglevel level+info -copyts -i in.mp4 -map 0:v:0 -an -sn -dn "
            + "-vf scale=416:234:flags=bilinear,format=bgr24,pad=416:416:0:0:color=0x727272,showinfo=checksum=0 "
            + "-fps_mode passthrough -f rawvideo -pix_fmt bgr24 pipe:1",
            string.Join(' ', arguments));
    }

    [Fact]
    public async Task Read_ForRoadClip_YieldsAsManyFramesAsFfprobeCounts()
    {
        var path = TestAssets.Video("road.mp4");
        var info = await VideoProbe.ProbeVideoAsync(path);
        var reader = new LetterboxFrameReader(s_yoloxInput);
        var timestamps = new List<TimeSpan>();

        await foreach (var frame in reader.ReadAsync(info))
        {
            using (frame)
            {
                Assert.Equal(timestamps.Count, frame.Index);
                Assert.Equal(416 * 416 * 3, frame.Pixels.Length);
                timestamps.Add(frame.Timestamp);
            }
        }

        // ffprobe's own count of decoded frames (-count_frames) is the reference the reader must match.
        Assert.Equal((await MediaTools.VideoAsync(path)).FrameCount, timestamps.Count);

        // 25 fps from pts 0: frame i is presented at i x 40 ms (taken from showinfo, not computed).
        for (var i = 0; i < timestamps.Count; i++)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(40 * i), timestamps[i]);
        }
    }

    [Fact]
    public async Task Read_ForLandscapeTopLeft_FillsThePadRowsWithThePadValue()
    {
        var info = await VideoProbe.ProbeVideoAsync(TestAssets.Video("road.mp4"));
        var reader = new LetterboxFrameReader(s_yoloxInput);
        var frames = 0;

        await foreach (var frame in reader.ReadAsync(info))
        {
            using (frame)
            {
                frames++;
                Assert.Equal(new LetterboxTransform(1280, 720, 416, 416, 416, 234, 0, 0), frame.Letterbox);

                // Rows 234..415 are padding; the picture rows above are not uniformly 114.
                var pad = frame.Span[(234 * 416 * 3)..];
                Assert.Equal(-1, pad.IndexOfAnyExcept((byte)114));
                Assert.NotEqual(-1, frame.Span[..(234 * 416 * 3)].IndexOfAnyExcept((byte)114));
            }

            break;
        }

        // The checks above ran: a reader that yields nothing fails here.
        Assert.Equal(1, frames);
    }

    [Fact]
    public async Task Read_ForOddSizedImageCentered_PadsAroundThePictureAndKeepsRgbOrder()
    {
        using var folder = new TempFolder("gedge-vision-");

        // A pure red 63x31 picture (PPM: exact bytes, no lossy coding): scaled to 416x205, (416 - 205) / 2 = 105 rows above, 106 below.
        var path = folder.PathOf("red.ppm");
        WritePpm(path, 63, 31, red: 255, green: 0, blue: 0);
        var info = await VideoProbe.ProbeAsync(path);
        var reader = new LetterboxFrameReader(s_yolov4Input);
        var frames = 0;

        await foreach (var frame in reader.ReadAsync(info))
        {
            using (frame)
            {
                frames++;
                Assert.Equal(new LetterboxTransform(63, 31, 416, 416, 416, 205, 0, 105), frame.Letterbox);
                var rowBytes = 416 * 3;
                Assert.Equal(-1, frame.Span[..(105 * rowBytes)].IndexOfAnyExcept((byte)128));
                Assert.Equal(-1, frame.Span[((105 + 205) * rowBytes)..].IndexOfAnyExcept((byte)128));

                // Red in RGB order at the first and last picture pixels.
                Assert.Equal(new byte[] { 255, 0, 0 }, frame.Span.Slice(105 * rowBytes, 3).ToArray());
                Assert.Equal(new byte[] { 255, 0, 0 }, frame.Span.Slice(((105 + 205) * rowBytes) - 3, 3).ToArray());
            }
        }

        Assert.Equal(1, frames);
    }

    [Fact]
    public async Task Read_ForBgrModel_PutsBlueFirst()
    {
        using var folder = new TempFolder("gedge-vision-");
        var path = folder.PathOf("red.ppm");
        WritePpm(path, 8, 8, red: 255, green: 0, blue: 0);
        var info = await VideoProbe.ProbeAsync(path);
        var frames = 0;

        await foreach (var frame in new LetterboxFrameReader(s_yoloxInput).ReadAsync(info))
        {
            using (frame)
            {
                frames++;
                Assert.Equal(new byte[] { 0, 0, 255 }, frame.Span[..3].ToArray());
            }
        }

        Assert.Equal(1, frames);
    }

    [Fact]
    public async Task Read_WhenTheConsumerStopsEarly_EndsFfmpegAndReturns()
    {
        // A copy under a name of its own, so this test's ffmpeg is told apart from other tests' by its command line.
        using var folder = new TempFolder("gedge-vision-");
        var path = folder.PathOf($"early-{Guid.NewGuid():N}.mp4");
        File.Copy(TestAssets.Video("road.mp4"), path);
        var info = await VideoProbe.ProbeVideoAsync(path);
        var taken = 0;
        var runningWhileRead = false;

        await foreach (var frame in new LetterboxFrameReader(s_yoloxInput).ReadAsync(info))
        {
            frame.Dispose();
            runningWhileRead |= FfmpegReading(path);
            if (++taken == 3)
            {
                break;
            }
        }

        // The 38-frame clip was left after 3: the decoder that was running is gone once the loop has returned.
        Assert.True(runningWhileRead, "no ffmpeg was seen reading the clip");
        Assert.False(FfmpegReading(path), "ffmpeg is still running after the consumer stopped");
    }

    // Whether a process of this machine has `path` on its command line (ffmpeg, reading it).
    private static bool FfmpegReading(string path) =>
        Directory.EnumerateDirectories("/proc").Any(folder =>
        {
            try
            {
                return int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    && File.ReadAllText(Path.Combine(folder, "cmdline")).Split('\0').Contains(path);
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        });

    [Fact]
    public void TryParseShowinfo_ReadsThePresentationTime()
    {
        var parsed = LetterboxFrameReader.TryParseShowinfo(
            "[Parsed_showinfo_3 @ 0x55d146a17240] [info] n:  12 pts:   6144 pts_time:0.48    duration:512 pos: 99 fmt:bgr24 sar:1/1 s:416x416 i:P iskey:0 type:B",
            out var timestamp);

        Assert.True(parsed);
        Assert.Equal(TimeSpan.FromMilliseconds(480), timestamp);
    }

    private static void WritePpm(string path, int width, int height, byte red, byte green, byte blue)
    {
        var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"P6\n{width} {height}\n255\n"));
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < pixels.Length; i += 3)
        {
            (pixels[i], pixels[i + 1], pixels[i + 2]) = (red, green, blue);
        }

        File.WriteAllBytes(path, [.. header, .. pixels]);
    }
}
