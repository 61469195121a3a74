using Xunit;

namespace LlamaNas.TestSupport;

/// <summary>
/// Snapshot testing in the Verify convention: text is compared with the committed <c>{folder}/{name}.verified.txt</c>;
/// on a difference (or when it is missing) the new text is written beside it as <c>{name}.received.txt</c>
/// (git-ignored) and the test fails. Accept a change by renaming received to verified after reading it. (Verify.Xunit
/// itself cannot be restored here: its core package is not on the mirror.)
/// </summary>
public static class Snapshot
{
    /// <param name="folder">The snapshot folder, relative to the repository root.</param>
    public static void Verify(string folder, string name, string actual)
    {
        var root = Path.Combine(SharedData.RepositoryRoot, folder);
        var verified = Path.Combine(root, name + ".verified.txt");
        var received = Path.Combine(root, name + ".received.txt");
        actual = actual.ReplaceLineEndings("\n");
        var expected = File.Exists(verified) ? File.ReadAllText(verified) : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        Directory.CreateDirectory(root);
        File.WriteAllText(received, actual);
        var firstDifference = expected is null ? "no verified file yet" : FirstDifference(expected, actual);
        Assert.Fail($"snapshot {name} differs ({firstDifference}); compare {received} with {verified}");
    }

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
}
