using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace GEdge.Vision.Onnx;

/// <summary>
/// Creates ONNX Runtime sessions with the execution provider the options ask for, falling back to the CPU provider with a
/// logged warning when CUDA cannot be used, so a GPU-less node still detects.
/// </summary>
public static partial class OnnxSessionFactory
{
    /// <summary>The session options for a provider request (CUDA appended when asked for; throws when CUDA cannot load).</summary>
    public static SessionOptions CreateSessionOptions(ObjectDetectorOptions options, ExecutionProvider provider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.IntraOpThreads);
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
        };
        try
        {
            if (provider == ExecutionProvider.Cuda)
            {
                sessionOptions.AppendExecutionProvider_CUDA(options.DeviceId);
            }

            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a model into a session with the requested provider; when CUDA was requested and cannot be used (no driver,
    /// no CUDA/cuDNN libraries, no such device) logs a warning with the reason and loads it on the CPU provider instead.
    /// </summary>
    /// <param name="modelPath">The .onnx file.</param>
    /// <param name="options">Provider, device and threads.</param>
    /// <param name="logger">Receives the fallback warning.</param>
    /// <param name="activeProvider">The provider the session really runs on.</param>
    public static InferenceSession Create(string modelPath, ObjectDetectorOptions options, ILogger logger, out ExecutionProvider activeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.ExecutionProvider == ExecutionProvider.Cuda)
        {
            try
            {
                using var cudaOptions = CreateSessionOptions(options, ExecutionProvider.Cuda);
                var session = new InferenceSession(modelPath, cudaOptions);
                activeProvider = ExecutionProvider.Cuda;
                return session;
            }
            catch (OnnxRuntimeException e)
            {
                // ORT reports a missing CUDA/cuDNN library, driver or device as a provider failure at append or session time.
                LogCudaFallback(logger, options.DeviceId, CudaFailureReason(e));
            }
        }

        using var cpuOptions = CreateSessionOptions(options, ExecutionProvider.Cpu);
        activeProvider = ExecutionProvider.Cpu;
        return new InferenceSession(modelPath, cpuOptions);
    }

    /// <summary>
    /// ORT's exception only says "Failed to load shared library"; the useful part (which CUDA library is missing) is in the
    /// loader's own error, so load the CUDA provider library once more and report what the dynamic loader says.
    /// </summary>
    private static string CudaFailureReason(OnnxRuntimeException exception)
    {
        var reason = FirstLine(exception.Message);
        foreach (var folder in new[] { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native") })
        {
            var provider = Path.Combine(folder, "libonnxruntime_providers_cuda.so");
            if (!File.Exists(provider))
            {
                continue;
            }

            try
            {
                NativeLibrary.Free(NativeLibrary.Load(provider));
            }
            catch (DllNotFoundException e)
            {
                // .NET puts the dynamic loader's own message (dlerror) on the last line.
                var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                return lines.Length > 1 ? $"{reason} ({lines[^1]})" : reason;
            }

            break;
        }

        return reason;
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).Trim();
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "CUDA execution provider requested (device {DeviceId}) but it cannot be used: {Reason}. Falling back to the CPU execution provider.")]
    private static partial void LogCudaFallback(ILogger logger, int deviceId, string reason);
}
