using GEdge.Functions.Hosting;
using GEdge.Infer;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseEventFailures();
builder.Services.AddGEdgeFunction(builder.Configuration).AddInferStage();
builder.Build().Run();
