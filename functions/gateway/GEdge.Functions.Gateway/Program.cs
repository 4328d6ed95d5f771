using GEdge.Functions.Hosting;
using GEdge.Gateway;

GEdgeFunctionApp.Run(args, services => services.AddGateway());
