using System.Globalization;
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
            foreach (var (key, value) in ConfigEntries(options))
            {
                sessionOptions.AddSessionConfigEntry(key, value);
            }

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

    /// <summary>The session configuration entries the options ask for (ONNX Runtime's onnxruntime_session_options_config_keys.h names them).</summary>
    internal static IReadOnlyDictionary<string, string> ConfigEntries(ObjectDetectorOptions options) =>
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["session.intra_op.allow_spinning"] = options.IntraOpSpinning ? "1" : "0",
        };

    /// <summary>
    /// Loads a model into a session with the requested provider; when CUDA was requested and cannot be used (no driver,
    /// no CUDA/cuDNN libraries, no such device) logs a warning with the reason and loads it on the CPU provider instead.
    /// </summary>
    /// <param name="modelPath">The .onnx file.</param>
    /// <param name="options">Provider, device, threads and the session cache.</param>
    /// <param name="logger">Receives the fallback warning.</param>
    /// <param name="activeProvider">The provider the session really runs on.</param>
    /// <param name="modelKey">What names the model's content in <see cref="ObjectDetectorOptions.SessionCache"/> (its manifest's
    /// SHA-256, already verified); null keeps the model out of the cache.</param>
    public static InferenceSession Create(string modelPath, ObjectDetectorOptions options, ILogger logger, out ExecutionProvider activeProvider, string? modelKey = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.ExecutionProvider == ExecutionProvider.Cuda)
        {
            try
            {
                var session = Load(modelPath, modelKey, options, ExecutionProvider.Cuda, logger);
                activeProvider = ExecutionProvider.Cuda;
                return session;
            }
            catch (OnnxRuntimeException e)
            {
                // ORT reports a missing CUDA/cuDNN library, driver or device as a provider failure at append or session time.
                LogCudaFallback(logger, options.DeviceId, CudaFailureReason(e));
            }
        }

        activeProvider = ExecutionProvider.Cpu;
        return Load(modelPath, modelKey, options, ExecutionProvider.Cpu, logger);
    }

    /// <summary>
    /// The file in <paramref name="cache"/> that holds the model <paramref name="modelKey"/> as ONNX Runtime optimized it for
    /// <paramref name="provider"/>: optimizing at the highest level rewrites the graph for the provider and, on the CPU, for
    /// the vector width (the NCHWc layout's block), so the name carries the provider, ONNX Runtime's version and the
    /// machine's architecture and widest vector instructions besides the model's hash.
    /// </summary>
    public static string CachedModelPath(string cache, string modelKey, ExecutionProvider provider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cache);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelKey);
        var vectors = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2"
            : System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? "neon" : "scalar";
        var name = string.Create(CultureInfo.InvariantCulture,
            $"{modelKey[..Math.Min(16, modelKey.Length)]}-{provider}-ort{OrtEnv.Instance().GetVersionString()}-{RuntimeInformation.ProcessArchitecture}-{vectors}.onnx");
        return Path.Combine(cache, name.ToLowerInvariant());
    }

    // A session on the model, optimized as the options say; with a session cache, on the model as an earlier session
    // optimized it for this provider (loaded with optimization off: there is nothing left to do), or, the first time,
    // optimized now and written there for the next (ONNX Runtime's OptimizedModelFilePath), under a name of its own
    // first, so that two processes starting at once never read a half-written file.
    private static InferenceSession Load(string modelPath, string? modelKey, ObjectDetectorOptions options, ExecutionProvider provider, ILogger logger)
    {
        using var sessionOptions = CreateSessionOptions(options, provider);
        if (string.IsNullOrWhiteSpace(options.SessionCache) || modelKey is null)
        {
            return new InferenceSession(modelPath, sessionOptions);
        }

        var cached = CachedModelPath(options.SessionCache, modelKey, provider);
        if (File.Exists(cached))
        {
            sessionOptions.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
            try
            {
                var session = new InferenceSession(cached, sessionOptions);
                System.Diagnostics.Activity.Current?.SetTag("gedge.session_cache", "hit");
                return session;
            }
            catch (OnnxRuntimeException e)
            {
                // A file ONNX Runtime cannot load (cut short, written by another build): made again below.
                LogCacheUnusable(logger, cached, FirstLine(e.Message));
                TryDelete(cached);
                sessionOptions.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
            }
        }

        var partial = string.Create(CultureInfo.InvariantCulture, $"{cached}.{Environment.ProcessId}-{Guid.NewGuid():N}.partial");
        try
        {
            Directory.CreateDirectory(options.SessionCache);
            sessionOptions.OptimizedModelFilePath = partial;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be written costs the optimization, not the session.
            LogCacheNotKept(logger, options.SessionCache, e.Message);
            return new InferenceSession(modelPath, sessionOptions);
        }

        var fresh = new InferenceSession(modelPath, sessionOptions);
        try
        {
            File.Move(partial, cached, overwrite: true);
            System.Diagnostics.Activity.Current?.SetTag("gedge.session_cache", "written");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheNotKept(logger, options.SessionCache, e.Message);
            TryDelete(partial);
        }

        return fresh;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next writer to replace.
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "The optimized model {Path} could not be loaded ({Reason}); the model is optimized again and the file replaced")]
    private static partial void LogCacheUnusable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The optimized model could not be kept in {Cache} ({Reason}); the next session optimizes it again")]
    private static partial void LogCacheNotKept(ILogger logger, string cache, string reason);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "CUDA execution provider requested (device {DeviceId}) but it cannot be used: {Reason}. Falling back to the CPU execution provider.")]
    private static partial void LogCudaFallback(ILogger logger, int deviceId, string reason);
}
