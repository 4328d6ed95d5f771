using GEdge.Functions.Hosting;
using GEdge.Postprocess;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseEventFailures();
builder.Services.AddGEdgeFunction(builder.Configuration).AddPostprocessStage();
builder.Build().Run();
