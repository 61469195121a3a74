using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlamaNas.TestSupport.Fuzzing;

/// <summary>
/// The one mutation engine of the fuzz suite: seeded and deterministic, so a failing case is replayed from its seed.
/// Besides byte-level damage (bit flips, inserted/deleted/duplicated runs, truncation) it knows JSON and text well
/// enough to hit the parsers' value checks: lone surrogate escapes and raw invalid UTF-8 inside strings, huge,
/// negative and fractional numbers, values of the wrong type, deleted and duplicated fields, and dropped, repeated
/// or swapped lines. A mutation that finds nothing to act on falls back to a byte-level one.
/// </summary>
public sealed partial class Mutator(int seed)
{
    private static readonly byte[] InterestingBytes = [.. "{}[]\",:0123456789-.eE \\u\n"u8, 0, 0x7F, 0x80, 0xC0, 0xED, 0xFF];

    private static readonly string[] BadUtf8 = ["\xFF", "\xC3", "\xED\xA0\x80", "\xC0\x80", "\xF4\x90\x80\x80", "\x80"];

    private static readonly string[] SurrogateEscapes = [@"\ud800", @"\udfff", @"\udc00x", @"\ud83d", @"a\ud800b"];

    private static readonly string[] OddNumbers =
    [
        "0", "-1", "-0", "1e400", "-1e400", "1e-400", "2147483647", "2147483648", "-2147483649", "9223372036854775808",
        "99999999999999999999999999", "0.5", "-0.5", "1e9", "3.0", "1E+2", "00", "-", "NaN", "Infinity",
    ];

    private static readonly string[] WrongValues = ["null", "true", "false", "{}", "[]", "\"\"", "\"0\"", "\"x\"", "0", "-7", "[1,2]", "{\"a\":1}", "1.5"];

    private readonly Random _random = new(seed);

    public delegate string Mutation(Mutator m, string text);

    /// <summary>Applies one to three mutations to <paramref name="input"/>; <c>What</c> names them for the failure message.</summary>
    public (byte[] Bytes, string What) Mutate(byte[] input)
    {
        ArgumentNullException.ThrowIfNull(input);

        // Latin-1 maps every byte to one char and back, so text edits keep arbitrary bytes intact.
        var text = Encoding.Latin1.GetString(input);
        var steps = new List<string>();
        var count = _random.Next(10) < 7 ? 1 : _random.Next(2, 4);
        for (var i = 0; i < count; i++)
        {
            var (name, mutation) = Mutations[_random.Next(Mutations.Length)];
            var before = text;
            text = mutation(this, text);
            if (text == before)
            {
                (name, mutation) = Mutations[_random.Next(ByteMutations)];
                text = mutation(this, text);
            }

            steps.Add(name);
        }

        return (Encoding.Latin1.GetBytes(text), string.Join(" + ", steps));
    }

    private const int ByteMutations = 6;

    // The first ByteMutations entries act on any input.
    private static readonly (string Name, Mutation Apply)[] Mutations =
    [
        ("flip bits", (m, t) => m.FlipBits(t)),
        ("replace a byte", (m, t) => m.At(t, 1, ((char)m.Pick(InterestingBytes)).ToString())),
        ("insert bytes", (m, t) => m.At(t, 0, m._random.Next(2) == 0 ? ((char)m.Pick(InterestingBytes)).ToString() : m.Pick(BadUtf8))),
        ("delete a run", (m, t) => m.At(t, m._random.Next(1, 17), string.Empty)),
        ("duplicate a run", (m, t) => m.DuplicateRun(t)),
        ("truncate", (m, t) => t.Length == 0 ? t : t[..m._random.Next(t.Length)]),
        ("lone surrogate in a string", (m, t) => m.InString(t, m.Pick(SurrogateEscapes))),
        ("invalid UTF-8 in a string", (m, t) => m.InString(t, m.Pick(BadUtf8))),
        ("odd number", (m, t) => m.ReplaceMatch(t, NumberToken(), _ => m.Pick(OddNumbers))),
        ("huge number", (m, t) => m.ReplaceMatch(t, NumberToken(), _ => m._random.Next(2) == 0 ? "1" + new string('0', m._random.Next(10, 400)) : "-" + m._random.NextInt64().ToString(CultureInfo.InvariantCulture))),
        ("wrong type", (m, t) => m.ReplaceMatch(t, ScalarValue(), match => match.Groups["key"].Value + m.Pick(WrongValues))),
        ("delete a field", (m, t) => m.ReplaceMatch(t, ScalarField(), _ => string.Empty)),
        ("duplicate a field", (m, t) => m.ReplaceMatch(t, ScalarField(), match => match.Value.TrimEnd().EndsWith(',') ? match.Value + match.Value : match.Value)),
        ("drop a line", (m, t) => m.EditLines(t, (lines, i) => lines.RemoveAt(i))),
        ("repeat a line", (m, t) => m.EditLines(t, (lines, i) => lines.Insert(i, lines[i]))),
        ("swap lines", (m, t) => m.EditLines(t, (lines, i) => (lines[i], lines[^1]) = (lines[^1], lines[i]))),
        ("empty a string", (m, t) => m.ReplaceMatch(t, StringToken(), _ => "\"\"")),
        ("long string", (m, t) => m.ReplaceMatch(t, StringToken(), _ => "\"" + new string('a', m._random.Next(1000, 100_000)) + "\"")),
    ];

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>Replaces <paramref name="length"/> chars at a random position with <paramref name="insert"/>.</summary>
    private string At(string text, int length, string insert)
    {
        var at = _random.Next(text.Length + 1);
        length = Math.Min(length, text.Length - at);
        return string.Concat(text.AsSpan(0, at), insert, text.AsSpan(at + length));
    }

    private string FlipBits(string text)
    {
        if (text.Length == 0)
        {
            return text;
        }

        var chars = text.ToCharArray();
        for (var i = _random.Next(1, 5); i > 0; i--)
        {
            var at = _random.Next(chars.Length);
            chars[at] = (char)((byte)chars[at] ^ (1 << _random.Next(8)));
        }

        return new string(chars);
    }

    private string DuplicateRun(string text)
    {
        if (text.Length == 0)
        {
            return text;
        }

        var start = _random.Next(text.Length);
        var run = text.Substring(start, _random.Next(1, Math.Min(64, text.Length - start) + 1));
        return At(text, 0, run);
    }

    /// <summary>Puts <paramref name="insert"/> inside a random string literal (just after its opening quote or replacing it).</summary>
    private string InString(string text, string insert) =>
        ReplaceMatch(text, StringToken(), match => _random.Next(2) == 0
            ? "\"" + insert + match.Value[1..]
            : "\"" + insert + "\"");

    private string ReplaceMatch(string text, Regex pattern, Func<Match, string> replacement)
    {
        // A bounded prefix keeps the regex cheap on megabyte inputs; the match is anywhere in it.
        var matches = pattern.Matches(text.Length > 200_000 ? text[..200_000] : text);
        if (matches.Count == 0)
        {
            return text;
        }

        var match = matches[_random.Next(matches.Count)];
        return string.Concat(text.AsSpan(0, match.Index), replacement(match), text.AsSpan(match.Index + match.Length));
    }

    private string EditLines(string text, Action<List<string>, int> edit)
    {
        var lines = text.Split('\n').ToList();
        if (lines.Count < 2)
        {
            return text;
        }

        edit(lines, _random.Next(lines.Count));
        return string.Join('\n', lines);
    }

    [GeneratedRegex("\"(?:[^\"\\\\\\n]|\\\\.)*\"")]
    private static partial Regex StringToken();

    [GeneratedRegex(@"(?<![\w.""])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w""])")]
    private static partial Regex NumberToken();

    /// <summary>A key and its scalar value, the value to be replaced.</summary>
    [GeneratedRegex("(?<key>\"(?:[^\"\\\\\\n]|\\\\.)*\"\\s*:\\s*)(?:\"(?:[^\"\\\\\\n]|\\\\.)*\"|-?\\d[\\d.eE+-]*|true|false|null)")]
    private static partial Regex ScalarValue();

    /// <summary>A whole <c>"key": scalar</c> member with its trailing comma when it has one.</summary>
    [GeneratedRegex("\"(?:[^\"\\\\\\n]|\\\\.)*\"\\s*:\\s*(?:\"(?:[^\"\\\\\\n]|\\\\.)*\"|-?\\d[\\d.eE+-]*|true|false|null)\\s*,?\\s*")]
    private static partial Regex ScalarField();
}
