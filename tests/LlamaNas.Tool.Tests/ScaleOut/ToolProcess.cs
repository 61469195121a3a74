using System.Diagnostics;

namespace LlamaNas.Tool.Tests.ScaleOut;

/// <summary>The tool as its own process (as on a login node or a worker), with its default libtorch thread count.</summary>
internal static class ToolProcess
{
    public static string Tool => typeof(Cli).Assembly.Location;

    /// <summary>Runs <c>llamanas</c> with <paramref name="args"/>, <paramref name="environment"/> set on top of this process's.</summary>
    public static async Task<(int Code, string Out, string Err)> Run(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet", [Tool, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
