using System.Text;
using System.Text.Json.Nodes;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Tests.Checkpoints;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;
using LlamaNas.TestSupport.Fuzzing;
using TorchSharp;
using Xunit.Abstractions;
using static LlamaNas.Engine.Tests.Checkpoints.CheckpointFixtures;

namespace LlamaNas.Engine.Tests.Reliability;

/// <summary>
/// The fuzz suite's checkpoint, tokenizer and training-data parsers, each over seeded mutations of a real (or real,
/// cut down) file: every case must be accepted or refused with a coded error (docs/RELIABILITY.md).
/// </summary>
public sealed class EngineParserFuzzTests(ITestOutputHelper output) : CheckpointTest
{
    private const int Cases = 300;

    [Fact]
    public void Safetensors_header_and_data_layout()
    {
        var original = File.ReadAllBytes(Stories260KWeights);
        var headerLength = (int)BitConverter.ToUInt64(original, 0);
        var data = original[(8 + headerLength)..];
        var path = Dir.File("model.safetensors");

        // The header is mutated as text and the length prefix kept right, so the cases reach the layout checks.
        Fuzz("safetensors header and data layout", original[8..(8 + headerLength)], header =>
        {
            File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. data]);
            using var file = SafetensorsFile.Open(path);
            foreach (var tensor in file.Tensors)
            {
                using var t = file.Load(tensor.Name, torch.ScalarType.Float32);
            }
        });
    }

    /// <summary>Tensors moved within the data section (holes, overlaps, a range past the end) and bytes added after it.</summary>
    [Fact]
    public void Safetensors_data_offsets()
    {
        var original = File.ReadAllBytes(Stories260KWeights);
        var headerLength = (int)BitConverter.ToUInt64(original, 0);
        var header = JsonNode.Parse(original.AsSpan(8, headerLength))!.AsObject();
        var data = original[(8 + headerLength)..];
        var names = header.Where(kv => kv.Key != "__metadata__").Select(kv => kv.Key).ToArray();
        var path = Dir.File("model.safetensors");

        (byte[] Bytes, string What) Move(int seed)
        {
            var random = new Random(seed);
            var mutated = header.DeepClone().AsObject();
            var name = names[random.Next(names.Length)];
            var offsets = mutated[name]!["data_offsets"]!.AsArray();
            var (begin, end) = (offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>());
            var shift = random.Next(4) switch { 0 => 4L * random.Next(-4, 5), 1 => end - begin, 2 => -begin, _ => data.Length - end };
            var extra = random.Next(4) == 0 ? random.Next(1, 64) : 0;
            mutated[name]!["data_offsets"] = new JsonArray(begin + shift, end + shift);
            byte[] json = [.. Encoding.UTF8.GetBytes(mutated.ToJsonString())];
            return ([.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data, .. new byte[extra]], $"move {name} by {shift}, {extra} bytes added");
        }

        var report = FuzzRun.Run("safetensors data offsets", Cases, Move, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            using var file = SafetensorsFile.Open(path);
        }).EnsureClean();
        output.WriteLine(report.Summary);
        Assert.All(
            [Core.Diagnostics.DiagnosticCodes.SafetensorsInvalidOffsets, Core.Diagnostics.DiagnosticCodes.SafetensorsOverlappingTensors, Core.Diagnostics.DiagnosticCodes.SafetensorsDataNotContiguous],
            c => Assert.True(report.Codes.ContainsKey(c), $"no case reached {c}: {report.Summary}"));
    }

    [Fact]
    public void Shard_index()
    {
        File.WriteAllText(Dir.File(CheckpointFiles.Config), TinyConfig().ToJson().ToJsonString());
        using (var scope = torch.NewDisposeScope())
        {
            SafetensorsWriter.WriteSharded(Dir.Path, RandomWeights(TinyConfig()), maxShardBytes: 3000);
        }

        var index = Dir.File(CheckpointFiles.Index);
        Fuzz("shard index", File.ReadAllBytes(index), bytes =>
        {
            File.WriteAllBytes(index, bytes);
            using var checkpoint = LlamaCheckpoint.Open(Dir.Path);
        });
    }

    [Fact]
    public void Tokenizer_json()
    {
        var path = Dir.File(TokenizerLoader.TokenizerJsonFileName);
        Fuzz("tokenizer.json", Encoding.UTF8.GetBytes(SmallSmolLM2Tokenizer()), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            Exercise(TokenizerLoader.Load(Dir.Path));
        });
    }

    [Fact]
    public void Tokenizer_model()
    {
        var path = Dir.File(TokenizerLoader.SentencePieceFileName);
        Fuzz("tokenizer.model (SentencePiece)", File.ReadAllBytes(SharedData.Path("models", "stories260K", "tokenizer.model")), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            Exercise(TokenizerLoader.Load(Dir.Path));
        });
    }

    [Fact]
    public void Tokenizer_config_json()
    {
        File.Copy(SharedData.Path("models", "stories260K", "tokenizer.model"), Dir.File(TokenizerLoader.SentencePieceFileName));
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Path("models", "stories260K", "tokenizer_config.json")))!.AsObject();
        config["added_tokens_decoder"] = JsonNode.Parse("""{"1": {"content": "<s>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}}""");
        config["clean_up_tokenization_spaces"] = false;
        var path = Dir.File(TokenizerLoader.TokenizerConfigFileName);
        Fuzz("tokenizer_config.json", Encoding.UTF8.GetBytes(config.ToJsonString()), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            Exercise(TokenizerLoader.Load(Dir.Path));
        });
    }

    [Fact]
    public void Alpaca_json() =>
        FuzzData("alpaca (.json)", "data.json", Encoding.UTF8.GetBytes(AlpacaRecords(5).ToJsonString()), p => InstructionData.Load(p));

    [Fact]
    public void Alpaca_jsonl() =>
        FuzzData("alpaca (.jsonl)", "data.jsonl", Encoding.UTF8.GetBytes(string.Join("\n", AlpacaRecords(5).Select(r => r!.ToJsonString()))), p => InstructionData.Load(p));

    /// <summary>Plain text has no structure to break: every case must be accepted (bad bytes become U+FFFD).</summary>
    [Fact]
    public void Text_txt() =>
        FuzzData("text (.txt)", "data.txt", Encoding.UTF8.GetBytes(string.Join("\n", File.ReadLines(SharedData.Path("data", "tinystories", "valid-head-a.txt")).Take(12))), p => TextCorpus.Load(p), refusals: false);

    [Fact]
    public void Text_jsonl() =>
        FuzzData("text (.jsonl)", "data.jsonl", Encoding.UTF8.GetBytes(string.Join("\n", File.ReadLines(SharedData.Path("data", "tinystories", "valid-head-a.txt")).Where(l => l.Length > 0).Take(6).Select(l => new JsonObject { ["text"] = l }.ToJsonString()))), p => TextCorpus.Load(p));

    private void FuzzData(string parser, string name, byte[] input, Action<string> load, bool refusals = true)
    {
        var path = Dir.File(name);
        Fuzz(parser, input, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            load(path);
        }, refusals);
    }

    private void Fuzz(string parser, byte[] input, Action<byte[]> parse, bool refusals = true)
    {
        parse(input); // the unmutated input is valid, so the cases test the mutations and not the fixture
        var report = FuzzRun.Run(parser, input, Cases, parse);
        output.WriteLine(report.Summary);
        report.EnsureClean();
        Assert.True(refusals ? report.Codes.Count > 0 : report.Accepted == Cases, $"unexpected outcomes: {report.Summary}");
    }

    /// <summary>A loaded tokenizer must also encode and decode without crashing.</summary>
    private static void Exercise(ITextTokenizer tokenizer)
    {
        var ids = tokenizer.Encode("Once upon a time, Lily saw a big red ball. 123 ünïcode!");
        tokenizer.Decode(ids);
    }

    private static JsonArray AlpacaRecords(int count) =>
        new([.. JsonNode.Parse(File.ReadAllText(SharedData.Path("data", "alpaca", "alpaca_small_2000_subset.json")))!.AsArray().Take(count).Select(r => r!.DeepClone())]);

    /// <summary>SmolLM2's real tokenizer.json with its vocabulary cut to the first 400 ids (and the merges among them), so a case parses in milliseconds.</summary>
    private static string SmallSmolLM2Tokenizer()
    {
        var json = JsonNode.Parse(File.ReadAllText(SharedData.Path("models", "smollm2-135m", "tokenizer.json")))!.AsObject();
        var model = json["model"]!.AsObject();
        var vocab = model["vocab"]!.AsObject().Where(kv => kv.Value!.GetValue<int>() < 400).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        model["vocab"] = new JsonObject(model["vocab"]!.AsObject().Where(kv => vocab.Contains(kv.Key)).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value!.DeepClone())));
        model["merges"] = new JsonArray([.. model["merges"]!.AsArray().Select(m => m!.GetValue<string>().Split(' '))
            .Where(m => vocab.Contains(m[0]) && vocab.Contains(m[1]) && vocab.Contains(m[0] + m[1]))
            .Select(m => (JsonNode)(m[0] + " " + m[1]))]);
        json["added_tokens"] = new JsonArray([.. json["added_tokens"]!.AsArray().Where(t => t!["id"]!.GetValue<int>() < 400).Select(t => t!.DeepClone())]);
        return json.ToJsonString();
    }
}
