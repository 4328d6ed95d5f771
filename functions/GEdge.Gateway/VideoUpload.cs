using System.Buffers;
using GEdge.Events;
using GEdge.Stages;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace GEdge.Gateway;

/// <summary>
/// Reads an upload from a request as it arrives, straight into storage: either a <c>multipart/form-data</c> body whose
/// first file part is the video (what <c>curl -F video=@clip.mp4</c> and browser forms send), or any other body that is
/// the video itself, named by <c>?name=clip.mp4</c> (what <c>gedge submit</c> sends). Never buffered whole.
/// </summary>
internal static class VideoUpload
{
    public const string NameParameter = "name";

    public static async Task<JobSubmission> SubmitAsync(HttpContext context, string user, JobSubmissions submissions, long maxBytes, CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) ||
            !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var name = request.Query[NameParameter] is [{ Length: > 0 } given]
                ? given
                : throw new BadHttpRequestException($"Name the video with '?{NameParameter}=clip.mp4', or send it as multipart/form-data.");
            return await submissions.SubmitAsync(user, VideoName(name), (target, ct) => CopyUploadAsync(request.Body, target, ct), cancellationToken).ConfigureAwait(false);
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
        {
            throw new BadHttpRequestException("The multipart/form-data Content-Type has no boundary.");
        }

        // The request's own size limit bounds the whole body; the reader's default 128 MB limit per part would not.
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
        while (await FromClientAsync(() => reader.ReadNextSectionAsync(cancellationToken)).ConfigureAwait(false) is { } section)
        {
            if (section.GetContentDispositionHeader() is { } disposition && disposition.IsFileDisposition())
            {
                var name = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                return await submissions.SubmitAsync(user, VideoName(name), (target, ct) => CopyUploadAsync(section.Body, target, ct), cancellationToken).ConfigureAwait(false);
            }
        }

        throw new BadHttpRequestException("The multipart/form-data body has no file part.");
    }

    // Copies the client's bytes to storage as they come. A body that breaks off or does not parse is the client's
    // fault (400); a failing write to storage is not, and stays what it is (500).
    private static async Task CopyUploadAsync(Stream fromClient, Stream toStorage, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (await FromClientAsync(() => fromClient.ReadAsync(buffer, cancellationToken)).ConfigureAwait(false) is var read and > 0)
            {
                await toStorage.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<T> FromClientAsync<T>(Func<ValueTask<T>> read)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        // Kestrel's own refusals (413 for a body past the limit) are BadHttpRequestExceptions already, with their status.
        catch (Exception e) when (e is IOException or InvalidDataException && e is not BadHttpRequestException)
        {
            throw new BadHttpRequestException($"The upload could not be read: {e.Message}", e);
        }
    }

    private static ValueTask<T> FromClientAsync<T>(Func<Task<T>> read) => FromClientAsync(() => new ValueTask<T>(read()));

    // The name decides the job's 'type' and how the user recognises it; its content is Preprocess's to judge.
    private static string VideoName(string? name) =>
        name is { Length: > 0 } && VideoFileTypes.IsVideo(name)
            ? name
            : throw new BadHttpRequestException(
                $"'{name}' is not named as a video; the extensions taken are {string.Join(", ", VideoFileTypes.Extensions.Order(StringComparer.Ordinal))}.",
                StatusCodes.Status415UnsupportedMediaType);
}
