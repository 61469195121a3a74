using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Per-layer key/value cache for incremental decoding. Storage is preallocated ([B, KV, capacity, D]) and grown
/// by doubling, so a decoding step writes one slice instead of concatenating the whole history. Storage is sized
/// by the keys appended, so a sub-network's cache holds only its active KV heads. A cache belongs to the
/// sub-network that first runs on it (<see cref="Architecture"/>); running another one on it is LNAS0420.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private long _capacity;

    public KvCache(int layers, long capacity)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _capacity = Math.Max(1, capacity);
    }

    /// <summary>The sub-network whose keys and values this cache holds; null until the first forward.</summary>
    public SubnetworkArchitecture? Architecture { get; private set; }

    /// <summary>Number of positions already stored (the past length for the next forward).</summary>
    public long Length { get; private set; }

    /// <summary>Bytes held by the stored keys and values (their preallocated capacity included).</summary>
    public long Bytes => _keys.Concat(_values).Sum(t => t is null ? 0 : t.numel() * t.ElementSize);

    /// <summary>Stores k/v ([B, KV, T, D]) after the current <see cref="Length"/> and returns views of the whole history.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        var needed = Length + k.shape[2];
        if (_keys[layer] is null || needed > _keys[layer]!.shape[2])
        {
            while (_capacity < needed)
            {
                _capacity *= 2;
            }

            Grow(ref _keys[layer], k);
            Grow(ref _values[layer], v);
        }

        _keys[layer]!.narrow(2, Length, k.shape[2]).copy_(k);
        _values[layer]!.narrow(2, Length, v.shape[2]).copy_(v);
        return (_keys[layer]!.narrow(2, 0, needed), _values[layer]!.narrow(2, 0, needed));
    }

    /// <summary>Called by the model before a forward: binds a fresh cache to <paramref name="active"/>, or checks that it is the one bound.</summary>
    public void BindTo(SubnetworkArchitecture active)
    {
        ArgumentNullException.ThrowIfNull(active);
        Architecture ??= active;
        if (!ReferenceEquals(Architecture, active) && !Architecture.Equals(active))
        {
            throw new LlamaNasException(
                DiagnosticCodes.KvCacheArchitectureMismatch,
                $"this KV cache holds the keys and values of sub-network ({Architecture}), but the model now runs ({active}). Start a new cache with NewCache after switching sub-networks.");
        }
    }

    /// <summary>
    /// A new cache whose <paramref name="batch"/> rows each start with this single-row cache's history, with room
    /// for <paramref name="extra"/> more positions: a prefix computed once, continued by many suffixes.
    /// </summary>
    public KvCache Repeat(long batch, long extra)
    {
        var copy = new KvCache(_keys.Length, Length + Math.Max(1, extra)) { Architecture = Architecture, Length = Length };
        for (var layer = 0; layer < _keys.Length; layer++)
        {
            copy._keys[layer] = Repeated(_keys[layer], batch, copy._capacity);
            copy._values[layer] = Repeated(_values[layer], batch, copy._capacity);
        }

        return copy;
    }

    private Tensor? Repeated(Tensor? source, long batch, long capacity)
    {
        if (source is null)
        {
            return null;
        }

        if (source.shape[0] != 1)
        {
            throw new InvalidOperationException($"only a single-row cache can be repeated (this one holds {source.shape[0]} rows)");
        }

        using var scope = NewDisposeScope();
        var repeated = zeros([batch, source.shape[1], capacity, source.shape[3]], source.dtype, source.device);
        repeated.narrow(2, 0, Length).copy_(source.narrow(2, 0, Length).expand(batch, -1, -1, -1));
        return repeated.DetachFromDisposeScope();
    }

    /// <summary>The key and value storage of <paramref name="layer"/> ([B, KV, capacity, D]); null before its first append.</summary>
    internal (Tensor? Keys, Tensor? Values) Storage(int layer) => (_keys[layer], _values[layer]);

    /// <summary>Called by the model once every layer has appended the current step.</summary>
    public void Advance(long tokens) => Length += tokens;

    private void Grow(ref Tensor? storage, Tensor like)
    {
        var grown = zeros([like.shape[0], like.shape[1], _capacity, like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();
        if (storage is not null)
        {
            grown.narrow(2, 0, Length).copy_(storage.narrow(2, 0, Length));
            storage.Dispose();
        }

        storage = grown;
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values))
        {
            t?.Dispose();
        }

        Array.Clear(_keys);
        Array.Clear(_values);
    }
}
