using System.Text;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Models;
using LlamaNas.TestSupport;
using LlamaNas.TestSupport.Fuzzing;
using Xunit.Abstractions;
using static LlamaNas.Core.Tests.Evaluation.HubRowTypes;

namespace LlamaNas.Core.Tests.Reliability;

/// <summary>
/// The fuzz suite's parsers without libtorch: config.json and every task data format, each over seeded mutations of
/// real shared rows. Every case must be accepted or refused with a coded error (docs/RELIABILITY.md).
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Cases = 300;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Config_json()
    {
        var config = File.ReadAllText(SharedData.Path("models", "stories260K", "config.json")).TrimEnd().TrimEnd('}')
            + """, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}""";
        var path = _dir.File("config.json");
        Fuzz("config.json", Encoding.UTF8.GetBytes(config), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            LlamaConfig.Load(path).ParameterCount();
        }, Cases + 100);
    }

    [Fact]
    public void Arc_jsonl() =>
        FuzzTask("arc_easy", "arc/ARC-Easy-Test.jsonl", HeadLines(SharedData.Path("data", "arc", "ARC-Easy-Test.jsonl"), 6));

    [Fact]
    public void Winogrande_jsonl() =>
        FuzzTask("winogrande", "winogrande/dev.jsonl", HeadLines(SharedData.Path("data", "winogrande", "dev.jsonl"), 8));

    [Fact]
    public void Truthfulqa_json()
    {
        // The first three items of the real JSON array, cut at the fourth item's start.
        var text = File.ReadAllText(SharedData.Path("data", "truthfulqa", "mc_task.json"));
        var fourth = IndexOfNth(text, "\n  {", 4);
        FuzzTask("truthfulqa_mc1", "truthfulqa/mc_task.json", Encoding.UTF8.GetBytes(text[..fourth].TrimEnd().TrimEnd(',') + "\n]\n"));
    }

    [Fact]
    public void Mmlu_csv() =>
        FuzzTask("mmlu", "mmlu/test/abstract_algebra_test.csv", HeadLines(SharedData.Path("data", "mmlu", "test", "abstract_algebra_test.csv"), 8));

    [Fact]
    public void Hellaswag_text() =>
        FuzzTask("hellaswag", "hellaswag/hellaswag_val_full.txt", HeadLines(SharedData.Path("data", "hellaswag", "hellaswag_val_full.txt"), 24));

    /// <summary>Parquet.Net can hang on a damaged footer; the deadline is cut so those cases end within the case bound.</summary>
    [Fact]
    public void Winogrande_parquet()
    {
        var source = _dir.File("source.parquet");
        WriteParquet(source, DataFiles.ReadRows(SharedData.Path("data", "winogrande", "dev.jsonl")).Take(6).Select(r => new WinograndeRow
        {
            Sentence = r.String("sentence"),
            Option1 = r.String("option1"),
            Option2 = r.String("option2"),
            Answer = r.String("answer"),
        }));

        // Parquet.Net can spin on a damaged footer; a short deadline ends those cases within the case bound.
        var deadline = ParquetRows.ReadDeadline;
        ParquetRows.ReadDeadline = TimeSpan.FromSeconds(2);
        try
        {
            FuzzTask("winogrande", "winogrande/winogrande_xl/validation-00000-of-00001.parquet", File.ReadAllBytes(source));
        }
        finally
        {
            ParquetRows.ReadDeadline = deadline;
        }
    }

    [Fact]
    public void User_task_rows()
    {
        const string rows = """
            {"id": "q1", "context": "The sky is", "choices": ["blue", "green", "red"], "gold": 0}
            {"context": "Grass is", "choices": ["green", "purple"], "gold": 0, "continuation_delimiter": ""}
            {"id": "q3", "context": "Snow is", "choices": ["white", "black"], "gold": 0}
            """;
        var file = _dir.File("quiz.jsonl");
        Fuzz("user task (jsonl)", Encoding.UTF8.GetBytes(rows), bytes =>
        {
            File.WriteAllBytes(file, bytes);
            TaskLoader.Load("user", _dir.Path, new TaskLoadOptions { UserTaskFile = file });
        });
    }

    [Fact]
    public void User_task_header()
    {
        var file = _dir.Write("quiz.jsonl", """{"context": "The sky is", "choices": ["blue", "green"], "gold": 0}""");
        var header = _dir.File("quiz.task.json");
        var pool = _dir.Write("pool.jsonl", """{"context": "Grass is", "choices": ["green", "purple"], "gold": 0}""" + "\n" + """{"context": "Snow is", "choices": ["white", "black"], "gold": 0}""");
        Fuzz("user task header (.task.json)", """{"name": "sky_quiz", "description": "Colours.\n\n", "num_fewshot": 1}"""u8.ToArray(), bytes =>
        {
            File.WriteAllBytes(header, bytes);
            TaskLoader.Load("user", _dir.Path, new TaskLoadOptions { UserTaskFile = file, FewshotPoolPath = pool });
        });
    }

    private void FuzzTask(string task, string relative, byte[] input)
    {
        var path = _dir.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Fuzz($"{task} ({Path.GetExtension(relative)})", input, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            TaskLoader.Load(task, _dir.Path, new TaskLoadOptions { NumFewshot = 0 });
        });
    }

    private void Fuzz(string parser, byte[] input, Action<byte[]> parse, int cases = Cases)
    {
        parse(input); // the unmutated input is valid, so the cases test the mutations and not the fixture
        var report = FuzzRun.Run(parser, input, cases, parse);
        output.WriteLine(report.Summary);
        report.EnsureClean();
        Assert.True(report.Codes.Values.Sum() > cases / 10, $"the mutations should often break the input: {report.Summary}");
    }

    private static byte[] HeadLines(string path, int count) =>
        Encoding.UTF8.GetBytes(string.Join("\n", File.ReadLines(path).Take(count)) + "\n");

    private static int IndexOfNth(string text, string value, int n)
    {
        var at = -1;
        for (var i = 0; i < n; i++)
        {
            at = text.IndexOf(value, at + 1, StringComparison.Ordinal);
        }

        return at;
    }
}
