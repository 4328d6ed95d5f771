using GEdge.Functions.Hosting;
using GEdge.Postprocess;

GEdgeFunctionApp.Run(args, services => services.AddPostprocessStage());
