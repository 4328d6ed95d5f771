using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GEdge.Gateway;

/// <summary>
/// The gateway's HTTP surface for people and programs, the API (<see cref="GatewayServiceCollectionExtensions.MapGatewayApi"/>:
/// routing, authentication, authorization, the endpoints) and the dashboard (<see cref="Dashboard.MapDashboard"/>), as one
/// request pipeline, for hosts that hand requests over one at a time instead of mapping endpoints: the Azure Functions app
/// runs every <c>/api</c> and dashboard request through it, so it serves the same API, with the same authentication and
/// OpenAPI document, and the same page, as every other host.
/// </summary>
public sealed class GatewayHttpPipeline(IServiceProvider services)
{
    private readonly Lazy<RequestDelegate> _pipeline = new(() =>
    {
        var app = new ApplicationBuilder(services);
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseEndpoints(endpoints =>
        {
            endpoints.MapGatewayApi();
            endpoints.MapDashboard();
        });
        return app.Build();
    });

    /// <summary>Answers <paramref name="context"/>'s request; a path neither has gets a 404.</summary>
    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The host routed the request to its own function; this pipeline routes it again, among its own endpoints.
        context.SetEndpoint(null);
        context.Request.RouteValues.Clear();
        return _pipeline.Value(context);
    }
}
