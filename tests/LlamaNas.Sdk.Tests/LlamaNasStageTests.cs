using System.Text;
using LlamaNas.Build.Tasks;
using LlamaNas.TestSupport;
using Microsoft.Build.Utilities;

namespace LlamaNas.Sdk.Tests;

public sealed class LlamaNasStageTests
{
    [Fact]
    public void Evaluated_json_holds_every_setting_and_each_item_with_its_type_and_custom_metadata_sorted()
    {
        var settings = new[] { Setting("BaseModel", "model"), Setting("SizeBudget", "0.5"), Setting("HeldOutText", "") };
        var items = new[]
        {
            Item("data/a \"b\".txt", ("LlamaNasItemType", "TrainingData")),
            Item("Depth", ("LlamaNasItemType", "SearchDimension"), ("Choices", "3;4;5"), ("Alpha", "x")),
        };

        var json = Encoding.UTF8.GetString(LlamaNasStage.SerializeEvaluated(settings, items));

        Assert.Equal("""
            {
              "properties": {
                "BaseModel": "model",
                "SizeBudget": "0.5",
                "HeldOutText": ""
              },
              "items": [
                {
                  "type": "TrainingData",
                  "include": "data/a \"b\".txt",
                  "metadata": {}
                },
                {
                  "type": "SearchDimension",
                  "include": "Depth",
                  "metadata": {
                    "Alpha": "x",
                    "Choices": "3;4;5"
                  }
                }
              ]
            }

            """, json.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Unchanged_content_leaves_the_file_and_its_timestamp_alone()
    {
        using var dir = new TempDir();
        var path = dir.File("obj/llamanas/evaluated.json");
        Assert.True(LlamaNasStage.WriteIfChanged(path, "{}"u8.ToArray()));
        var written = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, written);

        Assert.False(LlamaNasStage.WriteIfChanged(path, "{}"u8.ToArray()));
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));

        Assert.True(LlamaNasStage.WriteIfChanged(path, "{\"a\":1}"u8.ToArray()));
        Assert.Equal("{\"a\":1}", File.ReadAllText(path));
    }

    [Fact]
    public void Paths_with_spaces_are_quoted_and_unset_options_left_out()
    {
        var task = new LlamaNasStage
        {
            ToolAssembly = "/opt/my tools/llamanas.dll",
            Project = "/home/u/My Models/Shrink.nasproj",
            Stage = "search",
            Configuration = "Debug",
            OutDir = "/home/u/My Models/bin/Debug/",
            ObjDir = "/home/u/My Models/obj/Debug/",
            CacheDir = "",
        };

        Assert.Equal(
            "\"/opt/my tools/llamanas.dll\" build \"/home/u/My Models/Shrink.nasproj\" --stage search --configuration Debug " +
            "--out-dir \"/home/u/My Models/bin/Debug/\" --obj-dir \"/home/u/My Models/obj/Debug/\" " +
            "--evaluated \"/home/u/My Models/obj/Debug/llamanas/evaluated.json\"",
            task.CommandLine);
    }

    [Fact]
    public void A_tool_that_fails_without_a_diagnostic_is_one_LNAS1090_error()
    {
        using var dir = new TempDir();

        // Not an assembly: the dotnet host refuses it with plain (non-canonical) text and a nonzero exit code.
        var (engine, ok) = Run(dir, dir.Write("broken/llamanas.dll", "not an assembly"));

        Assert.False(ok);
        var error = Assert.Single(engine.Errors);
        Assert.Equal("LNAS1090", error.Code);
        Assert.StartsWith("llamanas build --stage plan failed with exit code ", error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("obj/Debug/llamanas/evaluated.json")));
    }

    [Fact]
    public void A_missing_tool_is_LNAS1090_before_anything_runs()
    {
        using var dir = new TempDir();

        var (engine, ok) = Run(dir, dir.File("nowhere/llamanas.dll"));

        Assert.False(ok);
        var error = Assert.Single(engine.Errors);
        Assert.Equal("LNAS1090", error.Code);
        Assert.Contains("LlamaNasToolPath", error.Message, StringComparison.Ordinal);
    }

    private static (RecordingBuildEngine Engine, bool Ok) Run(TempDir dir, string tool)
    {
        var engine = new RecordingBuildEngine();
        var task = new LlamaNasStage
        {
            BuildEngine = engine,
            ToolAssembly = tool,
            Project = dir.Write("p.nasproj", "<Project />"),
            Stage = "plan",
            OutDir = dir.File("bin/Debug/"),
            ObjDir = dir.File("obj/Debug/"),
            Settings = [Setting("BaseModel", "model")],
        };
        return (engine, task.Execute());
    }

    private static TaskItem Setting(string name, string value) => Item(name, ("Value", value));

    private static TaskItem Item(string include, params (string Name, string Value)[] metadata)
    {
        var item = new TaskItem(include);
        foreach (var (name, value) in metadata)
        {
            item.SetMetadata(name, value);
        }

        return item;
    }
}
