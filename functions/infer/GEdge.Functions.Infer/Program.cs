using GEdge.Functions.Hosting;
using GEdge.Infer;

GEdgeFunctionApp.Run(args, services => services.AddInferStage());
