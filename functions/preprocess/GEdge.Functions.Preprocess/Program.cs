using GEdge.Functions.Hosting;
using GEdge.Preprocess;

GEdgeFunctionApp.Run(args, services => services.AddPreprocessStage());
