using System.Buffers;
using System.Globalization;
using GEdge.Events;
using GEdge.Jobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace GEdge.Gateway;

/// <summary>
/// Reads an upload from a request as it arrives, straight into storage: either a <c>multipart/form-data</c> body whose
/// first file part is the video (what <c>curl -F video=@clip.mp4</c> and browser forms send), or any other body that is
/// the video itself, named by <c>?name=clip.mp4</c> (what <c>gedge submit</c> sends). Never buffered whole. Before
/// anything is stored, the name must be a video's, the size within the limit as far as Content-Length tells, and the
/// first bytes a video container's; past them, a body that outgrows the limit is refused and its partial object dropped.
/// </summary>
internal static class VideoUpload
{
    public const string NameParameter = "name";

    private const int CopyBufferBytes = 1 << 16;

    public static async Task<JobSubmission> SubmitAsync(
        HttpContext context, string user, string? name, JobSubmissions submissions, long maxBytes, CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) ||
            !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var videoName = name is { Length: > 0 }
                ? VideoName(name)
                : throw new BadHttpRequestException($"Name the video with '?{NameParameter}=clip.mp4', or send it as multipart/form-data.");
            return await StoreAsync(request.Body, user, videoName, submissions, maxBytes, cancellationToken).ConfigureAwait(false);
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
        {
            throw new BadHttpRequestException("The multipart/form-data Content-Type has no boundary.");
        }

        // The request's own size limit bounds the whole body; the reader's default 128 MB limit per part would not.
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
        while (await FromClientAsync(() => reader.ReadNextSectionAsync(cancellationToken), maxBytes).ConfigureAwait(false) is { } section)
        {
            if (section.GetContentDispositionHeader() is { } disposition && disposition.IsFileDisposition())
            {
                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                // The rest of the body is read before the upload is kept: a second file is refused, not silently dropped.
                async Task NoOtherFileAsync(CancellationToken ct)
                {
                    while (await FromClientAsync(() => reader.ReadNextSectionAsync(ct), maxBytes).ConfigureAwait(false) is { } next)
                    {
                        if (next.GetContentDispositionHeader() is { } other && other.IsFileDisposition())
                        {
                            throw new BadHttpRequestException("The multipart/form-data body has more than one file; send one video per upload.");
                        }
                    }
                }

                return await StoreAsync(section.Body, user, VideoName(fileName), submissions, maxBytes, cancellationToken, NoOtherFileAsync).ConfigureAwait(false);
            }
        }

        throw new BadHttpRequestException("The multipart/form-data body has no file part.");
    }

    // Reads the first bytes and judges them before the store is touched, so a refused upload leaves nothing behind.
    private static async Task<JobSubmission> StoreAsync(
        Stream fromClient, string user, string videoName, JobSubmissions submissions, long maxBytes, CancellationToken cancellationToken,
        Func<CancellationToken, Task>? restOfBody = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            var head = 0;
            while (head < VideoSignature.HeadLength
                   && await FromClientAsync(() => fromClient.ReadAsync(buffer.AsMemory(head, VideoSignature.HeadLength - head), cancellationToken), maxBytes).ConfigureAwait(false) is var read and > 0)
            {
                head += read;
            }

            if (VideoSignature.Refusal(buffer.AsSpan(0, head)) is { } refusal)
            {
                throw new BadHttpRequestException(refusal, StatusCodes.Status415UnsupportedMediaType);
            }

            return await submissions.SubmitAsync(
                user,
                videoName,
                async (toStorage, ct) =>
                {
                    await CopyUploadAsync(buffer, head, fromClient, toStorage, maxBytes, ct).ConfigureAwait(false);
                    // Inside the write, so a refusal there publishes nothing.
                    if (restOfBody is not null)
                    {
                        await restOfBody(ct).ConfigureAwait(false);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Copies the client's bytes to storage as they come, after the head already read. A body that breaks off or does not
    // parse is the client's fault (400), one past the limit too large (413); a failing write to storage is neither, and
    // stays what it is (500). The count is kept here too, since not every host lets the request's own limit be set.
    private static async Task CopyUploadAsync(byte[] buffer, int head, Stream fromClient, Stream toStorage, long maxBytes, CancellationToken cancellationToken)
    {
        await toStorage.WriteAsync(buffer.AsMemory(0, head), cancellationToken).ConfigureAwait(false);
        long copied = head;
        while (await FromClientAsync(() => fromClient.ReadAsync(buffer.AsMemory(), cancellationToken), maxBytes).ConfigureAwait(false) is var read and > 0)
        {
            copied += read;
            if (copied > maxBytes)
            {
                throw TooLarge(maxBytes);
            }

            await toStorage.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask<T> FromClientAsync<T>(Func<ValueTask<T>> read, long maxBytes)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own refusal of a body past the limit: said in this API's words.
            throw TooLarge(maxBytes, e);
        }
        catch (Exception e) when (e is IOException or InvalidDataException && e is not BadHttpRequestException)
        {
            throw new BadHttpRequestException($"The upload could not be read: {e.Message}", e);
        }
    }

    private static ValueTask<T> FromClientAsync<T>(Func<Task<T>> read, long maxBytes) => FromClientAsync(() => new ValueTask<T>(read()), maxBytes);

    private static BadHttpRequestException TooLarge(long maxBytes, Exception? inner = null)
    {
        var message = string.Create(CultureInfo.InvariantCulture, $"The upload is larger than the gateway takes ({maxBytes} bytes, Gateway:MaxUploadBytes).");
        return inner is null
            ? new BadHttpRequestException(message, StatusCodes.Status413PayloadTooLarge)
            : new BadHttpRequestException(message, StatusCodes.Status413PayloadTooLarge, inner);
    }

    // The name decides the job's 'type' and how the user recognises it; its content is checked by its first bytes.
    private static string VideoName(string? name) =>
        name is { Length: > 0 } && VideoFileTypes.IsVideo(name)
            ? name
            : throw new BadHttpRequestException(
                $"'{Printable(name)}' is not named as a video; the extensions taken are {string.Join(", ", VideoFileTypes.Extensions.Order(StringComparer.Ordinal))}.",
                StatusCodes.Status415UnsupportedMediaType);

    // A name is echoed in the answer; control characters and a very long name are not.
    private static string Printable(string? name)
    {
        var shown = name is null ? string.Empty : name.Length > 80 ? name[..80] + "…" : name;
        return string.Create(shown.Length, shown, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }
}
