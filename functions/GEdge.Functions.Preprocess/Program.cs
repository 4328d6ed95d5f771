using GEdge.Functions.Hosting;
using GEdge.Preprocess;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseEventFailures();
builder.Services.AddGEdgeFunction(builder.Configuration).AddPreprocessStage();
builder.Build().Run();
