using System.Security.Cryptography;
using System.Text;

namespace LlamaNas.Pipeline;

/// <summary>
/// Content keys: the full SHA-256 (64 hex digits, never truncated) of a kind and its parts, each part length-prefixed
/// so that no two different lists hash alike. Stage keys chain: each includes its parent stage's key.
/// </summary>
public static class Key
{
    public static string Of(string kind, params IReadOnlyList<string> parts)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(parts);
        var text = new StringBuilder();
        foreach (var part in parts.Prepend(kind))
        {
            text.Append(part.Length).Append(':').Append(part).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
