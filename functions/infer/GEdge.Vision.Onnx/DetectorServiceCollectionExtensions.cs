using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Vision.Onnx;

/// <summary>Registers the object detector: options bound from the <c>Detector</c> section, one detector per process.</summary>
public static class DetectorServiceCollectionExtensions
{
    /// <summary>Adds <see cref="ObjectDetectorOptions"/> (defaults when unconfigured) and a singleton <see cref="ObjectDetector"/>, loaded on first use.</summary>
    public static IServiceCollection AddObjectDetector(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<ObjectDetectorOptions>().BindConfiguration(ObjectDetectorOptions.SectionName);

        // One InferenceSession per model per process (ORT's guidance): a singleton, disposed with the container.
        services.AddSingleton(provider => ObjectDetector.Create(
            provider.GetRequiredService<IOptions<ObjectDetectorOptions>>().Value,
            provider.GetService<ILogger<ObjectDetector>>()));
        return services;
    }
}
