using System.Diagnostics;

namespace LlamaNas.Tool.Tests;

public class DoctorCommandTests
{
    [Fact]
    public async Task Doctor_loads_libtorch_and_measures_a_bf16_matmul()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var rc = await Cli.RunAsync(["doctor"], output, error);

        Assert.True(rc == 0, error.ToString());
        Assert.Contains("libtorch            2.10", output.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"matmul 1024 BFloat16 +[0-9.]+ GFLOP/s", output.ToString());
    }

    [Fact]
    public async Task The_tool_process_reuses_freed_tensor_memory_unless_told_not_to()
    {
        var tuned = await RunDoctorProcess(heap: null);
        var system = await RunDoctorProcess(heap: "system");

        if (!OperatingSystem.IsLinux())
        {
            Assert.Contains("heap                not applicable", tuned, StringComparison.Ordinal);
            return;
        }

        Assert.Contains("heap                freed memory kept for reuse", tuned, StringComparison.Ordinal);
        Assert.Contains("a 128 MiB tensor took 0 MiB of new memory mappings", tuned, StringComparison.Ordinal);
        Assert.Contains("heap                C library defaults (LLAMANAS_HEAP=system)", system, StringComparison.Ordinal);
        Assert.Contains("a 128 MiB tensor took 128 MiB of new memory mappings", system, StringComparison.Ordinal);
    }

    /// <summary>A separate process: malloc tuning applies to the threads a process starts with, not to a test host's.</summary>
    private static async Task<string> RunDoctorProcess(string? heap)
    {
        var start = new ProcessStartInfo("dotnet", [typeof(Cli).Assembly.Location, "doctor"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["LLAMANAS_HEAP"] = heap;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
        return (await output).ReplaceLineEndings("\n");
    }

    [Fact]
    public async Task Unknown_verbs_fail_with_a_nonzero_exit()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.NotEqual(0, await Cli.RunAsync(["no-such-verb"], output, error));
    }

    [Fact]
    public async Task The_threads_option_reaches_libtorch_and_is_validated()
    {
        try
        {
            var (rc, output, error) = await CliRunner.Run("doctor", "--threads", "1");
            Assert.True(rc == 0, error);
            Assert.Contains("threads             1\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
            var bad = await CliRunner.Run("doctor", "--threads", "0");
            Assert.Equal(1, bad.Code);
            Assert.Contains("LNAS0100", bad.Err, StringComparison.Ordinal);
        }
        finally
        {
            Engine.Native.TorchRuntime.ConfigureThreads(Environment.ProcessorCount);
        }
    }
}
