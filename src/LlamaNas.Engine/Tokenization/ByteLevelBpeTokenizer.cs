using System.Collections.Concurrent;
using System.Text;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Engine.Tokenization;

/// <summary>
/// Byte-level BPE from a Hugging Face <c>tokenizer.json</c> (GPT-2, Llama 3, SmolLM2), behaving like the
/// <c>tokenizers</c> library:
/// <list type="bullet">
/// <item>added tokens are matched literally first (non-normalized ones, then normalized ones);</item>
/// <item>the rest runs through the pre-tokenizer steps; each piece's UTF-8 bytes are mapped to GPT-2's printable
/// alphabet and merged by rank (lowest rank first, leftmost on ties);</item>
/// <item>decoding maps the characters back to bytes and reads them as UTF-8 (invalid bytes become U+FFFD).</item>
/// </list>
/// </summary>
internal sealed class ByteLevelBpeTokenizer : ITextTokenizer
{
    private const int CacheLimit = 100_000;

    private readonly ByteLevelBpeDefinition _definition;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    private readonly AddedTokenSplitter _rawTokens;
    private readonly AddedTokenSplitter _normalizedTokens;
    private readonly bool[] _special;
    private readonly byte[][] _tokenBytes;
    private readonly bool _cleanUp;
    private readonly SpecialTokens _specialTokens;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private ByteLevelBpeTokenizer(ByteLevelBpeDefinition definition, TokenizerConfig config, SpecialIds modelConfigIds, string path)
    {
        _definition = definition;
        _vocab = definition.Vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _rawTokens = new AddedTokenSplitter(definition.AddedTokens.Where(t => !t.Normalized));
        _normalizedTokens = new AddedTokenSplitter(definition.AddedTokens.Where(t => t.Normalized));
        _cleanUp = config.CleanUpTokenizationSpaces;
        VocabSize = definition.Tokens.Length;
        _special = new bool[VocabSize];
        foreach (var token in definition.AddedTokens)
        {
            _special[token.Id] = token.Special;
        }

        _tokenBytes = new byte[VocabSize][];
        for (var id = 0; id < VocabSize; id++)
        {
            _tokenBytes[id] = TokenBytes(definition.Tokens[id]);
        }

        int? IdOf(string token) => definition.Vocab.TryGetValue(token, out var id) ? id : definition.AddedTokens.FirstOrDefault(a => a.Content == token)?.Id;
        _specialTokens = TokenizerText.ResolveSpecialTokens(config, IdOf,
            new SpecialTokens(definition.TemplatePrefix ?? modelConfigIds.Bos, definition.TemplateSuffix ?? modelConfigIds.Eos, definition.TemplatePrefix is not null, definition.TemplateSuffix is not null),
            path);
    }

    public int VocabSize { get; }

    /// <summary>What <c>tokenizer.json</c> defines (tokens, merges, added tokens), for writers of other tokenizer formats.</summary>
    internal ByteLevelBpeDefinition Definition => _definition;

    public int? BosId => _specialTokens.BosId;

    public int? EosId => _specialTokens.EosId;

    public bool AddBos => _specialTokens.AddBos;

    public bool AddEos => _specialTokens.AddEos;

    public static ByteLevelBpeTokenizer Load(string path, TokenizerConfig config, SpecialIds modelConfigIds)
    {
        using var file = JsonFile.Load(path, DiagnosticCodes.TokenizerJsonInvalid);
        return new ByteLevelBpeTokenizer(HfTokenizerJson.Parse(file), config, modelConfigIds, path);
    }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && AddBos)
        {
            ids.Add(BosId!.Value);
        }

        var raw = new List<TextSegment>();
        _rawTokens.Split(text, 0, text.Length, raw);
        var segments = new List<TextSegment>();
        foreach (var segment in raw)
        {
            if (segment.Token is null)
            {
                _normalizedTokens.Split(text, segment.Start, segment.Length, segments);
            }
            else
            {
                segments.Add(segment);
            }
        }

        foreach (var segment in segments)
        {
            if (segment.Token is { } token)
            {
                ids.Add(token.Id);
                continue;
            }

            List<string> pieces = [text.Substring(segment.Start, segment.Length)];
            foreach (var step in _definition.PreTokenizer)
            {
                pieces = step.Apply(pieces);
            }

            foreach (var piece in pieces)
            {
                ids.AddRange(EncodePiece(piece));
            }
        }

        if (addSpecialTokens && AddEos)
        {
            ids.Add(EosId!.Value);
        }

        return ids.ToArray();
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            if (id < VocabSize && !(skipSpecialTokens && _special[id]))
            {
                bytes.AddRange(_tokenBytes[id]);
            }
        }

        var text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
        return _cleanUp ? TokenizerText.CleanUpTokenizationSpaces(text) : text;
    }

    public string TokenToString(int id)
    {
        TokenizerText.CheckId(id, VocabSize);
        return _definition.Tokens[id];
    }

    // The ByteLevel decoder: a token whose characters all belong to the byte alphabet stands for those bytes;
    // any other token (an added token with characters outside it) stands for its own UTF-8.
    private static byte[] TokenBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!ByteLevelAlphabet.TryCharToByte(token[i], out bytes[i]))
            {
                return Encoding.UTF8.GetBytes(token);
            }
        }

        return bytes;
    }

    private int[] EncodePiece(string piece)
    {
        if (_cache.TryGetValue(piece, out var cached))
        {
            return cached;
        }

        var utf8 = Encoding.UTF8.GetBytes(piece);
        var mapped = new char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            mapped[i] = ByteLevelAlphabet.ByteToChar(utf8[i]);
        }

        var ids = _definition.IgnoreMerges && _vocab.TryGetValue(mapped, out var whole) ? [whole] : Merge(InitialSymbols(mapped));
        if (_cache.Count >= CacheLimit)
        {
            _cache.Clear();
        }

        _cache.TryAdd(piece, ids);
        return ids;
    }

    // One symbol per character; characters outside the vocabulary become the unknown token (fused when fuse_unk)
    // or are dropped when there is none, as the tokenizers library does.
    private List<int> InitialSymbols(ReadOnlySpan<char> mapped)
    {
        var symbols = new List<int>(mapped.Length);
        var previousUnknown = false;
        for (var i = 0; i < mapped.Length; i++)
        {
            if (_vocab.TryGetValue(mapped.Slice(i, 1), out var id))
            {
                symbols.Add(id);
                previousUnknown = false;
            }
            else if (_definition.UnkId is { } unk && !(previousUnknown && _definition.FuseUnk))
            {
                symbols.Add(unk);
                previousUnknown = true;
            }
        }

        return symbols;
    }

    private int[] Merge(List<int> symbols)
    {
        var count = symbols.Count;
        var ids = symbols.ToArray();
        var prev = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        for (var i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            alive[i] = true;
        }

        var merges = _definition.Merges;
        var queue = new PriorityQueue<(int Pos, int Merged), (int Rank, int Pos)>();
        void Consider(int left)
        {
            if (left >= 0 && next[left] >= 0 && merges.TryGetValue(ByteLevelBpeDefinition.MergeKey(ids[left], ids[next[left]]), out var m))
            {
                queue.Enqueue((left, m.Merged), (m.Rank, left));
            }
        }

        for (var i = 0; i + 1 < count; i++)
        {
            Consider(i);
        }

        while (queue.TryDequeue(out var top, out _))
        {
            var pos = top.Pos;
            var right = next[pos];
            // Skip entries made stale by an earlier merge.
            if (!alive[pos] || right < 0 || !merges.TryGetValue(ByteLevelBpeDefinition.MergeKey(ids[pos], ids[right]), out var m) || m.Merged != top.Merged)
            {
                continue;
            }

            ids[pos] = m.Merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0)
            {
                prev[next[pos]] = pos;
            }

            Consider(prev[pos]);
            Consider(pos);
        }

        var result = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            if (alive[i])
            {
                result.Add(ids[i]);
            }
        }

        return result.ToArray();
    }
}

/// <summary>BOS/EOS ids from the model's <c>config.json</c>, the last resort when the tokenizer files name none.</summary>
internal readonly record struct SpecialIds(int? Bos, int? Eos);
