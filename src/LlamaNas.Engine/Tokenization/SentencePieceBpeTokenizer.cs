using System.Globalization;
using System.Text;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Engine.Tokenization;

/// <summary>
/// A SentencePiece BPE model (<c>tokenizer.model</c>: Llama 1/2, TinyStories) behaving like Hugging Face's
/// <c>LlamaTokenizerFast</c> in its default legacy mode:
/// <list type="bullet">
/// <item>control pieces (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>), <c>&lt;unk&gt;</c>, user-defined pieces and
/// <c>added_tokens_decoder</c> entries are matched literally in the text first;</item>
/// <item>every remaining run of text gets the dummy prefix "▁" and has its spaces replaced by "▁";</item>
/// <item>the run is merged by SentencePiece's BPE (highest piece score first, leftmost on ties); a symbol outside the
/// vocabulary becomes its UTF-8 bytes (<c>&lt;0xNN&gt;</c>) under byte fallback, else one <c>&lt;unk&gt;</c> per run;</item>
/// <item>decoding turns "▁" into spaces, byte pieces into UTF-8 and drops one leading space (the dummy prefix).</item>
/// </list>
/// </summary>
internal sealed class SentencePieceBpeTokenizer : ITextTokenizer
{
    private const char Meta = '\u2581';

    private readonly string[] _tokens;
    private readonly float[] _scores;
    private readonly bool[] _special;
    private readonly int[] _byteValue;
    private readonly int[] _byteIds;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeable;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reserved;
    private readonly Dictionary<string, int> _allTokens;
    private readonly int _unkId;
    private readonly AddedTokenSplitter _splitter;
    private readonly SentencePieceModel _model;
    private readonly bool _cleanUp;
    private readonly SpecialTokens _specialTokens;

    private SentencePieceBpeTokenizer(SentencePieceModel model, string path, TokenizerConfig config)
    {
        _model = model;
        _cleanUp = config.CleanUpTokenizationSpaces;
        CheckSupported(model, path);

        var pieceCount = model.Pieces.Count;
        var extra = ExtraAddedTokens(model, config);
        VocabSize = pieceCount + extra.Count;
        _tokens = new string[VocabSize];
        _scores = new float[pieceCount];
        _special = new bool[VocabSize];
        _byteValue = new int[VocabSize];
        Array.Fill(_byteValue, -1);
        _byteIds = new int[256];
        Array.Fill(_byteIds, -1);

        var mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        var reserved = new Dictionary<string, int>(StringComparer.Ordinal);
        var literal = new List<AddedToken>();
        var unk = -1;
        for (var id = 0; id < pieceCount; id++)
        {
            var (piece, score, type) = model.Pieces[id];
            _tokens[id] = piece;
            _scores[id] = score;
            var isMergeable = type is SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused;
            if (!(isMergeable ? mergeable : reserved).TryAdd(piece, id))
            {
                throw Corrupt(path, $"piece '{piece}' is defined twice", id);
            }

            switch (type)
            {
                case SentencePieceType.Unknown:
                    unk = unk < 0 ? id : throw Corrupt(path, "it defines more than one unknown piece", id);
                    _special[id] = true;
                    literal.Add(new AddedToken(id, piece, Special: true));
                    break;
                case SentencePieceType.Control:
                    _special[id] = true;
                    literal.Add(new AddedToken(id, piece, Special: true));
                    break;
                case SentencePieceType.UserDefined:
                    literal.Add(new AddedToken(id, piece, Special: false));
                    break;
                case SentencePieceType.Byte:
                    var value = ParseBytePiece(piece);
                    if (!model.ByteFallback || value < 0)
                    {
                        throw Corrupt(path, model.ByteFallback ? $"byte piece '{piece}' is not of the form <0xNN>" : "it has byte pieces but byte_fallback is off", id);
                    }

                    _byteValue[id] = value;
                    _byteIds[value] = id;
                    break;
            }
        }

        if (unk < 0)
        {
            throw Corrupt(path, "it defines no unknown piece", 0);
        }

        if (model.ByteFallback && Array.IndexOf(_byteIds, -1) is var missing && missing >= 0)
        {
            throw Corrupt(path, $"byte_fallback is on but the byte piece <0x{missing:X2}> is missing", 0);
        }

        foreach (var added in config.AddedTokensDecoder)
        {
            var token = added.Token;
            if (token.Id >= pieceCount)
            {
                _tokens[token.Id] = token.Content;
                _special[token.Id] = token.Special;
            }
            else
            {
                _special[token.Id] |= token.Special;
            }

            literal.Add(token);
        }

        _unkId = unk;
        _mergeable = mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _reserved = reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _allTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = VocabSize - 1; id >= 0; id--)
        {
            _allTokens[_tokens[id]] = id;
        }

        _splitter = new AddedTokenSplitter(literal);

        int? ModelSpecial(string piece) => reserved.TryGetValue(piece, out var id) && model.Pieces[id].Type == SentencePieceType.Control ? id : null;
        // LlamaTokenizer's defaults: add BOS, not EOS.
        _specialTokens = TokenizerText.ResolveSpecialTokens(config, IdOf, new SpecialTokens(ModelSpecial(model.BosPiece), ModelSpecial(model.EosPiece), AddBos: true, AddEos: false), path);
    }

    public int VocabSize { get; }

    /// <summary>The parsed <c>tokenizer.model</c> (pieces, scores, types), for writers of other tokenizer formats.</summary>
    internal SentencePieceModel Model => _model;

    public int? BosId => _specialTokens.BosId;

    public int? EosId => _specialTokens.EosId;

    public bool AddBos => _specialTokens.AddBos;

    public bool AddEos => _specialTokens.AddEos;

    public static SentencePieceBpeTokenizer Load(string path, TokenizerConfig config)
    {
        var model = SentencePieceModel.Parse(TokenizerFiles.ReadAllBytes(path), path);
        return new SentencePieceBpeTokenizer(model, path, config);
    }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && AddBos)
        {
            ids.Add(BosId!.Value);
        }

        var segments = new List<TextSegment>();
        _splitter.Split(text, 0, text.Length, segments);
        foreach (var segment in segments)
        {
            if (segment.Token is { } token)
            {
                ids.Add(token.Id);
            }
            else
            {
                EncodeRun(text.AsSpan(segment.Start, segment.Length), ids);
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
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            if (id >= VocabSize || (skipSpecialTokens && _special[id]))
            {
                continue;
            }

            if (_byteValue[id] >= 0)
            {
                bytes.Add((byte)_byteValue[id]);
                continue;
            }

            TokenizerText.AppendByteRun(sb, bytes);
            sb.Append(_tokens[id]).Replace(Meta, ' ', sb.Length - _tokens[id].Length, _tokens[id].Length);
        }

        TokenizerText.AppendByteRun(sb, bytes);
        if (sb.Length > 0 && sb[0] == ' ')
        {
            sb.Remove(0, 1);
        }

        var text = sb.ToString();
        return _cleanUp ? TokenizerText.CleanUpTokenizationSpaces(text) : text;
    }

    public string TokenToString(int id)
    {
        TokenizerText.CheckId(id, VocabSize);
        return _tokens[id];
    }

    /// <summary>Whether <paramref name="id"/> is a special token (control, unknown or a special added token).</summary>
    internal bool IsSpecial(int id) => _special[id];

    private int? IdOf(string token) => _allTokens.TryGetValue(token, out var id) ? id : null;

    private void EncodeRun(ReadOnlySpan<char> run, List<int> ids)
    {
        var normalized = Normalize(run);
        if (normalized.Length == 0)
        {
            return;
        }

        // One symbol per code point, linked so that merges can splice them.
        var count = 0;
        var start = new int[normalized.Length];
        var length = new int[normalized.Length];
        for (var i = 0; i < normalized.Length; count++)
        {
            var width = char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length && char.IsLowSurrogate(normalized[i + 1]) ? 2 : 1;
            start[count] = i;
            length[count] = width;
            i += width;
        }

        var prev = new int[count];
        var next = new int[count];
        for (var i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        var agenda = new PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)>(AgendaOrder.Instance);
        void AddPair(int left, int right)
        {
            if (left >= 0 && right >= 0 && _mergeable.TryGetValue(normalized.AsSpan(start[left], length[left] + length[right]), out var id))
            {
                agenda.Enqueue((left, right, length[left] + length[right]), (_scores[id], left));
            }
        }

        for (var i = 1; i < count; i++)
        {
            AddPair(i - 1, i);
        }

        while (agenda.TryDequeue(out var top, out _))
        {
            // Entries whose symbols changed since they were queued are stale.
            if (length[top.Left] == 0 || length[top.Right] == 0 || length[top.Left] + length[top.Right] != top.Length)
            {
                continue;
            }

            length[top.Left] = top.Length;
            length[top.Right] = 0;
            next[top.Left] = next[top.Right];
            if (next[top.Left] >= 0)
            {
                prev[next[top.Left]] = top.Left;
            }

            AddPair(prev[top.Left], top.Left);
            AddPair(top.Left, next[top.Left]);
        }

        var previousUnknown = false;
        Span<byte> utf8 = stackalloc byte[8];
        for (var i = 0; i >= 0; i = next[i])
        {
            var symbol = normalized.AsSpan(start[i], length[i]);
            var id = _reserved.TryGetValue(symbol, out var r) ? r : _mergeable.TryGetValue(symbol, out var m) ? m : _unkId;
            if (id != _unkId)
            {
                ids.Add(id);
                previousUnknown = false;
            }
            else if (_model.ByteFallback)
            {
                var n = Encoding.UTF8.GetBytes(symbol, utf8);
                foreach (var b in utf8[..n])
                {
                    ids.Add(_byteIds[b]);
                }
            }
            else if (!previousUnknown)
            {
                ids.Add(_unkId);
                previousUnknown = true;
            }
        }
    }

    /// <summary>SentencePiece's identity normalizer: optional whitespace squeezing, the dummy prefix, spaces as "▁".</summary>
    private string Normalize(ReadOnlySpan<char> run)
    {
        if (_model.RemoveExtraWhitespaces)
        {
            run = run.Trim(' ');
        }

        if (run.IsEmpty)
        {
            return string.Empty;
        }

        var space = _model.EscapeWhitespaces ? Meta : ' ';
        var sb = new StringBuilder(run.Length + 1);
        if (_model.AddDummyPrefix)
        {
            sb.Append(space);
        }

        for (var i = 0; i < run.Length; i++)
        {
            if (run[i] != ' ')
            {
                sb.Append(run[i]);
            }
            else if (!_model.RemoveExtraWhitespaces || run[i - 1] != ' ')
            {
                sb.Append(space);
            }
        }

        return sb.ToString();
    }

    private static void CheckSupported(SentencePieceModel model, string path)
    {
        string? problem = null;
        if (model.ModelType != SentencePieceModel.ModelTypeBpe)
        {
            problem = $"it is a SentencePiece {SentencePieceModel.ModelTypeName(model.ModelType)} model; only BPE models (Llama 1/2 family) are supported";
        }
        else if (model.PrecompiledCharsmapBytes > 0)
        {
            problem = $"its normalizer '{model.NormalizerName}' rewrites text with a character map; only the identity normalizer is supported";
        }
        else if (model.TreatWhitespaceAsSuffix)
        {
            problem = "it treats whitespace as a suffix; only prefix whitespace (Llama style) is supported";
        }

        if (problem is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.TokenizerModelUnsupported, $"{Path.GetFileName(path)} cannot be used: {problem}.", new DiagnosticLocation(path));
        }
    }

    private static List<AddedToken> ExtraAddedTokens(SentencePieceModel model, TokenizerConfig config)
    {
        var pieceCount = model.Pieces.Count;
        var extra = new List<AddedToken>();
        foreach (var added in config.AddedTokensDecoder.OrderBy(a => a.Token.Id))
        {
            var token = added.Token;
            if (token.Id < pieceCount)
            {
                if (!string.Equals(model.Pieces[token.Id].Piece, token.Content, StringComparison.Ordinal))
                {
                    throw new LlamaNasException(DiagnosticCodes.TokenizerConfigInvalid,
                        $"added_tokens_decoder gives id {token.Id} the content '{token.Content}' but tokenizer.model has '{model.Pieces[token.Id].Piece}' there.", added.Where.Where());
                }
            }
            else if (token.Id != pieceCount + extra.Count)
            {
                throw new LlamaNasException(DiagnosticCodes.TokenizerConfigInvalid,
                    $"added token '{token.Content}' has id {token.Id}; ids past the {pieceCount} pieces of tokenizer.model must continue without gaps from {pieceCount + extra.Count}.", added.Where.Where());
            }
            else
            {
                extra.Add(token);
            }
        }

        return extra;
    }

    private static int ParseBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && int.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v) ? v : -1;

    private static LlamaNasException Corrupt(string path, string what, int pieceId) =>
        new(DiagnosticCodes.TokenizerModelCorrupt, $"{Path.GetFileName(path)} is not a valid SentencePiece model: {what}.",
            new DiagnosticLocation(path, Item: "piece " + pieceId.ToString(CultureInfo.InvariantCulture)));

    /// <summary>SentencePiece's agenda order: higher score first, then the leftmost pair.</summary>
    private sealed class AgendaOrder : IComparer<(float Score, int Left)>
    {
        public static readonly AgendaOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            var byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }
}
