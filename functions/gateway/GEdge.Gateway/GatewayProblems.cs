using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace GEdge.Gateway;

/// <summary>The API's problem responses (RFC 9457 <c>application/problem+json</c>), so every error reads the same way.</summary>
public static class GatewayProblems
{
    /// <summary>A problem with <paramref name="status"/>, titled by its reason phrase unless <paramref name="title"/> is given.</summary>
    public static ProblemHttpResult Problem(int status, string detail, string? title = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title ?? ReasonPhrases.GetReasonPhrase(status));

    /// <summary>401: no key, or a wrong one.</summary>
    public static ProblemHttpResult Unauthorized(string detail) => Problem(StatusCodes.Status401Unauthorized, detail);

    /// <summary>
    /// 404 for a job the caller does not have: one that does not exist and someone else's are answered alike, so ids
    /// reveal nothing.
    /// </summary>
    public static ProblemHttpResult NoSuchJob(long id) =>
        Problem(StatusCodes.Status404NotFound, string.Create(CultureInfo.InvariantCulture, $"You have no job {id}."), "No such job");
}
