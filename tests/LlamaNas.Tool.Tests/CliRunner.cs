namespace LlamaNas.Tool.Tests;

/// <summary>Runs the command line in process and captures what it printed.</summary>
internal static class CliRunner
{
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var rc = await Cli.RunAsync(args, output, error);
        return (rc, output.ToString(), error.ToString());
    }
}
