using GEdge.Hosting;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GEdge.Functions.Hosting;

/// <summary>The entry point every G-Edge function app shares, so an app's Program.cs names only its own part.</summary>
public static class GEdgeFunctionApp
{
    /// <summary>
    /// Builds and runs the isolated worker: the ASP.NET Core integration, <see cref="EventFailureMiddleware"/> within it,
    /// and the app's services (<see cref="Compose"/>).
    /// </summary>
    public static void Run(string[] args, Func<IServiceCollection, IServiceCollection> addFunction)
    {
        ArgumentNullException.ThrowIfNull(addFunction);
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        builder.UseEventFailures();
        Compose(builder.Services, builder.Configuration, addFunction);
        builder.Build().Run();
    }

    /// <summary>
    /// An app's services: what every function has (<see cref="FunctionServiceCollectionExtensions.AddGEdgeFunction"/>, as
    /// <c>gedge function</c> adds it), then <paramref name="addFunction"/>, the app's own part (<c>AddInferStage</c>, …).
    /// </summary>
    public static IServiceCollection Compose(IServiceCollection services, IConfiguration configuration, Func<IServiceCollection, IServiceCollection> addFunction)
    {
        ArgumentNullException.ThrowIfNull(addFunction);
        return addFunction(services.AddGEdgeFunction(configuration));
    }
}
