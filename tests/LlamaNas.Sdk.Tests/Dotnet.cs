using System.Diagnostics;
using System.Text;

namespace LlamaNas.Sdk.Tests;

/// <summary>The outcome of one dotnet command: exit code and stdout and stderr interleaved as printed.</summary>
public sealed record DotnetResult(string Command, int ExitCode, string Output)
{
    public IEnumerable<string> Lines => Output.Split('\n').Select(l => l.TrimEnd('\r'));

    /// <summary>The stages the build ran, from the tool's <c>llamanas: stage X: running</c> lines.</summary>
    public IReadOnlyList<string> StagesRun =>
        [.. Lines.Select(l => l.Trim()).Where(l => l.StartsWith("llamanas: stage ", StringComparison.Ordinal) && l.EndsWith(": running", StringComparison.Ordinal))
            .Select(l => l["llamanas: stage ".Length..^": running".Length])];

    public DotnetResult ShouldSucceed()
    {
        Assert.True(ExitCode == 0, $"`{Command}` exited with {ExitCode}:\n{Output}");
        return this;
    }
}

/// <summary>
/// Runs real <c>dotnet</c> processes (the one running the tests), isolated from the developer's machine: no telemetry,
/// no logo, no MSBuild node reuse, no terminal logger, and none of the MSBuild variables of an enclosing
/// <c>dotnet test</c>.
/// </summary>
public static class Dotnet
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    public static string Host =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    public static DotnetResult Run(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(Host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // An enclosing `dotnet test` passes its own MSBuild settings down; the child must find its SDK afresh.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["MSBUILDTERMINALLOGGER"] = "off";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"`dotnet {string.Join(' ', args)}` ran past {Timeout}:\n{output}");
        }

        process.WaitForExit();
        return new DotnetResult("dotnet " + string.Join(' ', args), process.ExitCode, output.ToString());
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Append(line).Append('\n');
        }
    }
}
