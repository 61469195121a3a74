using System.CommandLine;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Native;
using TorchSharp;

namespace LlamaNas.Tool.Commands;

/// <summary><c>llamanas doctor</c>: brings libtorch up, reports how, and times a real fp32 and bf16 matmul.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Check that the native runtime (libtorch) loads and report its configuration.");
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            var status = TorchRuntime.EnsureInitialized();
            o.WriteLine($"libtorch            {status.TorchVersion}");
            o.WriteLine($"TorchSharp native   {status.TorchSharpNativePath ?? "n/a"}");
            o.WriteLine($"system libstdc++    {status.SystemLibStdCxxPath ?? "n/a"} (newest {status.SystemNewestGlibcxx})");
            o.WriteLine($"libstdc++ compat    {status.Compat}{(status.CompatShimLoaded ? " (shim loaded)" : string.Empty)}");
            o.WriteLine($"heap                {status.Heap}");
            if (HeapTuning.ProbeLargeAllocation() is { } mapped)
            {
                o.WriteLine($"heap probe          a 128 MiB tensor took {mapped >> 20} MiB of new memory mappings");
            }

            o.WriteLine($"threads             {torch.get_num_threads()}");
            foreach (var dtype in new[] { torch.float32, torch.bfloat16 })
            {
                o.WriteLine($"matmul 1024 {dtype,-8} {MatmulPeak.GflopsPerSecond(dtype):F1} GFLOP/s");
            }

            return 0;
        });
        return command;
    }
}
