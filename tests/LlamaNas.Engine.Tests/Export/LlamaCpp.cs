using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Export;

/// <summary>What llama.cpp generated greedily from BOS, its next-token probabilities at the first steps, and its token ids of a text.</summary>
public sealed record LlamaCppGreedy(int Bos, int[] Tokens, string Text, float[][] Probabilities, int[] Encoded);

/// <summary>
/// llama.cpp as the judge of exported GGUF files: node-llama-cpp (exactly <see cref="Version"/>, which ships a
/// prebuilt linux-x64 llama.cpp) is installed once with npm into a cache folder outside the repository and reused;
/// <c>llamacpp-greedy.mjs</c> runs in a <c>node</c> process. Without Node.js ≥ 20 and npm the tests fail and say
/// what to install; they never skip.
/// </summary>
public static class LlamaCpp
{
    public const string Version = "3.21.1";

    private static readonly Lazy<string> Install = new(EnsureInstalled);

    /// <summary>The cache folder: <c>$XDG_CACHE_HOME/llamanas-test/node</c>, else <c>~/.cache/llamanas-test/node</c>.</summary>
    public static string Folder
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            cache = string.IsNullOrEmpty(cache) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : cache;
            return Path.Combine(cache, "llamanas-test", "node");
        }
    }

    public static LlamaCppGreedy Greedy(string gguf, int newTokens, int probabilitySteps, string text = "")
    {
        var script = Path.Combine(SharedData.RepositoryRoot, "tests", "LlamaNas.Engine.Tests", "Export", "llamacpp-greedy.mjs");
        var (code, output, error) = Run("node", [script, Install.Value, gguf, newTokens.ToString(CultureInfo.InvariantCulture), probabilitySteps.ToString(CultureInfo.InvariantCulture), text], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"llama.cpp could not run {Path.GetFileName(gguf)} (exit {code}):\n{error}\n{output}");
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        return new LlamaCppGreedy(
            root.GetProperty("bos").GetInt32(),
            [.. root.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32())],
            root.GetProperty("text").GetString()!,
            [.. root.GetProperty("probabilities").EnumerateArray().Select(step => step.EnumerateArray().Select(p => p.GetSingle()).ToArray())],
            [.. root.GetProperty("encoded").EnumerateArray().Select(t => t.GetInt32())]);
    }

    private static string EnsureInstalled()
    {
        var (code, version, _) = TryRun("node", ["--version"]);
        if (code != 0 || !System.Version.TryParse(version.Trim().TrimStart('v'), out var node) || node.Major < 20)
        {
            throw new InvalidOperationException(
                $"The llama.cpp export tests need Node.js 20 or newer with npm on PATH (found: {(code == 0 ? version.Trim() : "no node")}). " +
                "Install it, e.g. Debian 13 / Ubuntu 24.10+: apt-get install nodejs npm; Debian 12: the nodejs package of NodeSource's node_20.x repository.");
        }

        var folder = Folder;
        var installed = Path.Combine(folder, "node_modules", "node-llama-cpp", "package.json");
        if (File.Exists(installed))
        {
            using var package = JsonDocument.Parse(File.ReadAllText(installed));
            if (package.RootElement.GetProperty("version").GetString() == Version)
            {
                return folder;
            }
        }

        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "package.json"), "{\"name\":\"llamanas-llamacpp-judge\",\"private\":true,\"type\":\"module\"}\n");
        var (npm, output, error) = Run("npm", ["install", "--save-exact", "--no-audit", "--no-fund", $"node-llama-cpp@{Version}"], TimeSpan.FromMinutes(10), folder);
        if (npm != 0 || !File.Exists(installed))
        {
            throw new InvalidOperationException($"npm could not install node-llama-cpp@{Version} into {folder} (exit {npm}); the llama.cpp export tests need it.\n{error}\n{output}");
        }

        return folder;
    }

    private static (int Code, string Output, string Error) TryRun(string file, string[] args)
    {
        try
        {
            return Run(file, args, TimeSpan.FromSeconds(30));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, string.Empty, e.Message);
        }
    }

    private static (int Code, string Output, string Error) Run(string file, string[] args, TimeSpan timeout, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? string.Empty };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}.");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
