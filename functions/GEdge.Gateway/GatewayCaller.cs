using GEdge.Storage;
using Microsoft.AspNetCore.Http;

namespace GEdge.Gateway;

/// <summary>
/// Who is calling the jobs API. Until API keys arrive, callers name themselves with <c>?user=NAME</c>; every endpoint
/// asks here and nowhere else, so authentication replaces this one class, not the endpoints.
/// </summary>
public static class GatewayCaller
{
    /// <summary>The query parameter that names the user.</summary>
    public const string UserParameter = "user";

    /// <summary>The calling user; throws <see cref="BadHttpRequestException"/> (400) when the request names none or an invalid one.</summary>
    public static string UserOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var values = context.Request.Query[UserParameter];
        if (values.Count != 1 || string.IsNullOrEmpty(values[0]))
        {
            throw new BadHttpRequestException($"Name the user with one '?{UserParameter}=NAME'.");
        }

        try
        {
            return ObjectKey.ValidateUser(values[0]!);
        }
        catch (InvalidObjectKeyException e)
        {
            throw new BadHttpRequestException(e.Message);
        }
    }
}
