using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace GEdge.Functions.Hosting;

/// <summary>
/// An ASP.NET Core <see cref="IResult"/> as the <see cref="IActionResult"/> a Functions HTTP trigger answers with: the
/// integration executes action results only, and the shared event code (G-Edge's CloudEvents binding, the MinIO webhook)
/// answers with results.
/// </summary>
public sealed class HttpResultAction(IResult result) : IActionResult
{
    /// <summary>The result this action executes.</summary>
    public IResult Result { get; } = result ?? throw new ArgumentNullException(nameof(result));

    /// <inheritdoc />
    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Result.ExecuteAsync(context.HttpContext);
    }
}
