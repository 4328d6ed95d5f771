using GEdge.Media;

namespace GEdge.Vision.Tests;

/// <summary>The compact frame boundary's two ends: the bands one ffmpeg encodes, and what the decoder gives back.</summary>
public sealed class BandStreamDecoderTests
{
    [Fact]
    public async Task EncodedBands_DecodeToEveryFrameOnce_CloseToTheRawBands_AtTheRawReadersTimes()
    {
        using var folder = new TempFolder("gedge-bands-");
        var input = TestAssets.Manifest("yolox_nano").Input;
        var reader = new LetterboxFrameReader(input);
        var media = await VideoProbe.ProbeVideoAsync(TestAssets.Video("road.mp4"));
        var letterbox = input.LetterboxFor(media.Width, media.Height);
        var bandOffset = letterbox.PadTop * input.Width * 3;
        var bandBytes = letterbox.ScaledHeight * input.Width * 3;
        var raw = new List<(byte[] Band, TimeSpan Time)>();
        await foreach (var frame in reader.ReadAsync(media))
        {
            using (frame)
            {
                raw.Add((frame.Pixels.Slice(bandOffset, bandBytes).ToArray(), frame.Timestamp));
            }
        }

        var path = folder.PathOf("frames.h264");
        var counts = new List<int>();
        IReadOnlyList<TimeSpan> timestamps;
        await using (var file = File.Create(path))
        {
            timestamps = await reader.EncodeBandsAsync(media, file, quality: 18, counts.Add);
        }

        Assert.Equal(raw.Select(f => f.Time), timestamps);
        Assert.Equal(raw.Count, counts[^1]);
        using var decoder = BandStreamDecoder.Start(path, input.ChannelOrder);
        var band = new byte[bandBytes];
        foreach (var (expected, _) in raw)
        {
            Assert.Equal(bandBytes, await decoder.Frames.ReadAtLeastAsync(band, bandBytes, throwOnEndOfStream: false));
            var meanError = expected.Zip(band, (a, b) => Math.Abs(a - b)).Average();
            Assert.True(meanError < 2, $"the decoded band is {meanError:0.00} levels from the raw one on average");
        }

        await decoder.CompleteAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AFileThatIsNoH264Stream_FailsWithFfmpegsReason()
    {
        using var folder = new TempFolder("gedge-bands-");
        var path = folder.PathOf("frames.h264");
        await File.WriteAllTextAsync(path, "not a video stream");
        using var decoder = BandStreamDecoder.Start(path, ChannelOrder.Rgb);

        var failure = await Assert.ThrowsAsync<MediaException>(() => decoder.CompleteAsync(CancellationToken.None));

        Assert.Equal(MediaErrorKind.ProcessFailed, failure.Kind);
        Assert.Contains("band decoder exited with code", failure.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(failure.StandardErrorTail));
    }
}
