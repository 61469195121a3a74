using System.Text.RegularExpressions;

namespace LlamaNas.TestSupport;

/// <summary>
/// Snapshot testing in the Verify convention: text is compared with the committed <c>{folder}/{name}.verified.txt</c>;
/// on a difference (or when it is missing) the new text is written beside it as <c>{name}.received.txt</c>
/// (git-ignored) and the test fails. Accept a change by renaming received to verified after reading it. (Verify.Xunit
/// itself cannot be restored here: its core package is not on the mirror.) Scrub paths, times, versions and hashes
/// first, and round floats, so a snapshot holds only what the code decides.
/// </summary>
public static partial class Snapshots
{
    /// <param name="folder">Relative to the repository root, e.g. <c>tests/LlamaNas.Pipeline.Tests/Snapshots</c>.</param>
    public static void Verify(string folder, string name, string actual)
    {
        ArgumentNullException.ThrowIfNull(actual);
        var dir = System.IO.Path.Combine(SharedData.RepositoryRoot, folder);
        var verified = System.IO.Path.Combine(dir, name + ".verified.txt");
        var received = System.IO.Path.Combine(dir, name + ".received.txt");
        actual = actual.ReplaceLineEndings("\n");
        var expected = File.Exists(verified) ? File.ReadAllText(verified) : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        Directory.CreateDirectory(dir);
        File.WriteAllText(received, actual);
        var firstDifference = expected is null ? "no verified file yet" : FirstDifference(expected, actual);
        throw new SnapshotMismatchException($"snapshot {name} differs ({firstDifference}); compare {received} with {verified}");
    }

    /// <summary>Replaces every occurrence of <paramref name="path"/> (and its forward-slash form) with <paramref name="placeholder"/>.</summary>
    public static string ScrubPath(string text, string path, string placeholder)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(path);
        return text.Replace(path, placeholder, StringComparison.Ordinal).Replace(path.Replace('\\', '/'), placeholder, StringComparison.Ordinal);
    }

    /// <summary>sha256 hex digests (64 digits, with or without a <c>sha256:</c> prefix) become <c>&lt;sha256&gt;</c>.</summary>
    public static string ScrubHashes(string text) => Sha256().Replace(text, "<sha256>");

    /// <summary>Numbers with a fraction or exponent are rounded to <paramref name="digits"/> significant digits.</summary>
    public static string RoundFloats(string text, int digits = 4) => Float().Replace(text, m =>
        double.TryParse(m.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v.ToString("G" + digits, System.Globalization.CultureInfo.InvariantCulture)
            : m.Value);

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (var i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            var left = i < e.Length ? e[i] : "<end>";
            var right = i < a.Length ? a[i] : "<end>";
            if (left != right)
            {
                return $"line {i + 1}: expected {left} but got {right}";
            }
        }

        return "identical lines";
    }

    [GeneratedRegex(@"(sha256:)?\b[0-9a-f]{64}\b")]
    private static partial Regex Sha256();

    [GeneratedRegex(@"-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")]
    private static partial Regex Float();
}

/// <summary>A snapshot that differs from its verified file (fails the test that asked).</summary>
public sealed class SnapshotMismatchException(string message) : Exception(message);
