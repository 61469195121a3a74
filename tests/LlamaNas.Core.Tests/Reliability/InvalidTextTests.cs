using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.IO;
using LlamaNas.Core.Models;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.Reliability;

/// <summary>Lone surrogate escapes and raw invalid UTF-8 inside JSON strings are LNAS0112 at their line and column.</summary>
public sealed class InvalidTextTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("{\"a\": \"\\ud800\"}", 1, 7)]
    [InlineData("{\"a\": \"x\\udfffy\"}", 1, 7)]
    [InlineData("{\n  \"ok\": \"\\ud83d\\ude00\",\n  \"a\": [\"\\ud800\"]\n}", 3, 9)]
    [InlineData("{\"\\ud800\": 1}", 1, 2)]
    [InlineData("{\"a\": 1}\n{\"b\": \"\\udc00\"}", 2, 7)]
    public void Escaped_lone_surrogates_are_coded_at_their_place(string json, int line, int column)
    {
        var e = Assert.Throws<LlamaNasException>(() => JsonText.EnsureValidStrings(Encoding.UTF8.GetBytes(json), "f.json"));
        Assert.Equal(DiagnosticCodes.JsonInvalidText, e.Code);
        Assert.Equal((line, column), (e.Diagnostic.Location!.Line, e.Diagnostic.Location.Column));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC3 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xC0, 0x80 })]
    public void Raw_invalid_utf8_in_a_string_is_coded(byte[] bad)
    {
        byte[] json = [.. "{\"a\": \"x"u8, .. bad, .. "\"}"u8];
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => JsonText.EnsureValidStrings(json, "f.json")).Code);
    }

    [Fact]
    public void Valid_text_a_byte_order_mark_and_syntax_errors_pass_to_the_parser()
    {
        JsonText.EnsureValidStrings([.. Encoding.UTF8.Preamble, .. "{\"a\": \"h\\u00e9 \\ud83d\\ude00 ü\", \"b\": [1, 2]}"u8], "f.json");
        JsonText.EnsureValidStrings("{\"a\": "u8, "f.json"); // the caller's parser reports the truncation
    }

    [Fact]
    public void Config_json_with_a_lone_surrogate_is_coded_not_a_crash()
    {
        var path = _dir.Write("config.json", File.ReadAllText(SharedData.Path("models", "stories260K", "config.json")).Replace("\"silu\"", "\"\\ud800\"", StringComparison.Ordinal));
        var e = Assert.Throws<LlamaNasException>(() => LlamaConfig.Load(path));
        Assert.Equal(DiagnosticCodes.JsonInvalidText, e.Code);
        Assert.Equal(path, e.Diagnostic.Location!.File);
        Assert.True(e.Diagnostic.Location.Line > 1);
    }

    [Fact]
    public void User_task_rows_and_headers_with_bad_text_are_coded()
    {
        var rows = _dir.Write("quiz.jsonl", """{"context":"\ud800","choices":["a","b"],"gold":0}""");
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => Load(rows)).Code);

        File.WriteAllBytes(rows, [.. "{\"context\":\"ok "u8, 0xFF, .. "\",\"choices\":[\"a\",\"b\"],\"gold\":0}"u8]);
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => Load(rows)).Code);

        _dir.Write("quiz.jsonl", """{"context":"c","choices":["a","b"],"gold":0}""");
        _dir.Write("quiz.task.json", """{"description": "\udfff"}""");
        var e = Assert.Throws<LlamaNasException>(() => Load(rows));
        Assert.Equal(DiagnosticCodes.JsonInvalidText, e.Code);
        Assert.EndsWith("quiz.task.json", e.Diagnostic.Location!.File, StringComparison.Ordinal);
    }

    private EvaluationTask Load(string file) => TaskLoader.Load("user", _dir.Path, new TaskLoadOptions { UserTaskFile = file });
}
