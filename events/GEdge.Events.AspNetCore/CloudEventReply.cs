using CloudNative.CloudEvents;
using Microsoft.AspNetCore.Http;

namespace GEdge.Events.AspNetCore;

/// <summary>A subscriber's reply event as the endpoint's result: 200 with the event in binary mode.</summary>
internal sealed class CloudEventReply(CloudEvent reply, CloudEventFormatter formatter) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        return httpContext.Response.WriteCloudEventAsync(reply, ContentMode.Binary, formatter, httpContext.RequestAborted);
    }
}
