using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlamaNas.Build.Tasks;

/// <summary>
/// Runs one stage of <c>llamanas build</c> out of process, so MSBuild never loads libtorch (the dotnet-ef pattern).
/// The tool's canonical <c>file(line,col): error LNASxxxx: …</c> lines become real MSBuild errors and warnings, so
/// <c>-warnaserror</c>, <c>NoWarn</c> and IDE error lists work on them.
/// </summary>
public sealed class LlamaNasStage : ToolTask
{
    /// <summary>Lines the tool wants seen even at minimal verbosity start with this prefix.</summary>
    public const string HighImportancePrefix = "llamanas: ";

    /// <summary>Error code for a tool that failed without saying why (crash, missing runtime, killed).</summary>
    public const string ToolFailedCode = "LNAS1090";

    /// <summary>Metadata the SDK targets put on each entry of <see cref="Items"/> to name its MSBuild item type.</summary>
    public const string ItemTypeMetadata = "LlamaNasItemType";

    public LlamaNasStage()
    {
        // Stages run for minutes; let MSBuild schedule other projects on this node meanwhile.
        YieldDuringToolExecution = true;
    }

    /// <summary>The .nasproj being built.</summary>
    [Required]
    public string Project { get; set; } = "";

    /// <summary>plan, data, finetune, search, select, export or report.</summary>
    [Required]
    public string Stage { get; set; } = "";

    public string? Configuration { get; set; }

    [Required]
    public string OutDir { get; set; } = "";

    [Required]
    public string ObjDir { get; set; } = "";

    /// <summary>Super-network cache; empty lets the tool choose its default (it must survive <c>dotnet clean</c>).</summary>
    public string? CacheDir { get; set; }

    /// <summary>Path of <c>llamanas.dll</c>. (ToolTask's own <c>ToolPath</c> names the host's folder, hence the other name.)</summary>
    [Required]
    public string ToolAssembly { get; set; } = "";

    /// <summary>One item per .nasproj property, its evaluated value in the <c>Value</c> metadata.</summary>
    public ITaskItem[] Settings { get; set; } = [];

    /// <summary>TrainingData and SearchDimension items, each tagged with <see cref="ItemTypeMetadata"/>.</summary>
    public ITaskItem[] Items { get; set; } = [];

    protected override string ToolName => "dotnet";

    protected override Encoding StandardOutputEncoding => Encoding.UTF8;

    protected override Encoding StandardErrorEncoding => Encoding.UTF8;

    /// <summary>The arguments after the dotnet host, as the process receives them.</summary>
    internal string CommandLine => GenerateCommandLineCommands();

    private string EvaluatedPath => Path.Combine(ObjDir, "llamanas", "evaluated.json");

    protected override string GenerateFullPathToTool()
    {
        // The dotnet that runs this build, never whichever one PATH finds first.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return string.IsNullOrEmpty(host) ? Environment.ProcessPath ?? ToolName : host;
    }

    protected override bool ValidateParameters()
    {
        if (!File.Exists(ToolAssembly))
        {
            Log.LogError(null, ToolFailedCode, null, Project, 0, 0, 0, 0,
                $"the llamanas tool was not found at '{ToolAssembly}'; set LlamaNasToolPath to a built llamanas.dll or restore the LlamaNas.Sdk package again.");
            return false;
        }

        return base.ValidateParameters();
    }

    public override bool Execute()
    {
        // Rewritten only on a real change, so nothing keyed on its timestamp looks stale.
        WriteIfChanged(EvaluatedPath, SerializeEvaluated(Settings, Items));
        return base.Execute();
    }

    protected override string GenerateCommandLineCommands()
    {
        var builder = new CommandLineBuilder();
        builder.AppendFileNameIfNotNull(ToolAssembly);
        builder.AppendSwitch("build");
        builder.AppendFileNameIfNotNull(Project);
        builder.AppendSwitchIfNotNull("--stage ", Stage);
        builder.AppendSwitchIfNotNull("--configuration ", string.IsNullOrEmpty(Configuration) ? null : Configuration);
        builder.AppendSwitchIfNotNull("--out-dir ", OutDir);
        builder.AppendSwitchIfNotNull("--obj-dir ", ObjDir);
        builder.AppendSwitchIfNotNull("--cache-dir ", string.IsNullOrEmpty(CacheDir) ? null : CacheDir);
        builder.AppendSwitchIfNotNull("--evaluated ", EvaluatedPath);
        return builder.ToString();
    }

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        var importance = singleLine.StartsWith(HighImportancePrefix, StringComparison.Ordinal) ? MessageImportance.High : MessageImportance.Normal;

        // Parses canonical error/warning lines into real events; everything else is a message.
        base.LogEventsFromTextOutput(singleLine, importance);
    }

    protected override bool HandleTaskExecutionErrors()
    {
        // The tool's own coded errors already say what went wrong; add ours only when it said nothing.
        if (!Log.HasLoggedErrors)
        {
            Log.LogError(null, ToolFailedCode, null, Project, 0, 0, 0, 0,
                $"llamanas build --stage {Stage} failed with exit code {ExitCode} without reporting an error; its output is in the build log (-v:n).");
        }

        return false;
    }

    /// <summary>The evaluated-values file the tool reads with <c>--evaluated</c>; metadata sorted so equal input gives equal bytes.</summary>
    internal static byte[] SerializeEvaluated(IEnumerable<ITaskItem> settings, IEnumerable<ITaskItem> items)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("properties");
            foreach (var setting in settings)
            {
                json.WriteString(setting.ItemSpec, setting.GetMetadata("Value"));
            }

            json.WriteEndObject();
            json.WriteStartArray("items");
            foreach (var item in items)
            {
                json.WriteStartObject();
                json.WriteString("type", item.GetMetadata(ItemTypeMetadata));
                json.WriteString("include", item.ItemSpec);
                json.WriteStartObject("metadata");
                var metadata = item.CloneCustomMetadata();
                foreach (var name in metadata.Keys.Cast<string>().Where(n => n != ItemTypeMetadata).Order(StringComparer.Ordinal))
                {
                    json.WriteString(name, (string?)metadata[name]);
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>Writes <paramref name="content"/> unless the file already holds it; via a temp name so no reader sees half a file.</summary>
    internal static bool WriteIfChanged(string path, byte[] content)
    {
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(content))
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, content);
        File.Move(temp, path, overwrite: true);
        return true;
    }
}
