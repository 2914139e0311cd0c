using System.Buffers;

namespace Strata.Features.OnlineStore;

/// <summary>
/// Reads chosen features of one view for serving. Feature names are resolved once at creation, so a read is a key
/// encoding on the stack, one lock-free lookup and a copy into the caller's span: no allocation on the single-entity path.
/// </summary>
public sealed class OnlineFeatureReader
{
    private const int StackKeyBytes = 256;

    private readonly ViewIndex _index;
    private readonly int[] _features;
    private readonly DataType[] _types;

    internal OnlineFeatureReader(ViewIndex index, int[] features)
    {
        _index = index;
        _features = features;
        _types = features.Select(f => index.View.Features[f].Type).ToArray();
        FeatureNames = features.Select(f => index.View.Features[f].Name).ToArray();
    }

    /// <summary>The view read.</summary>
    public FeatureViewLayout View => _index.View;

    /// <summary>The features read, in result order.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Number of results per entity.</summary>
    public int FeatureCount => _features.Length;

    /// <summary>Reads one entity with a single-column key. See <see cref="TryRead(ReadOnlySpan{EntityKeyPart}, long, Span{FeatureValue})"/>.</summary>
    public bool TryRead(EntityKeyPart key, long nowMicros, Span<FeatureValue> results) =>
        TryRead(new ReadOnlySpan<EntityKeyPart>(in key), nowMicros, results);

    /// <summary>
    /// Reads one entity: fills <paramref name="results"/> with one value per feature (status, value, event time).
    /// Returns false, touching nothing, when the buffer is shorter than <see cref="FeatureCount"/>.
    /// </summary>
    /// <param name="key">One part per join key, in the view's key order.</param>
    /// <param name="nowMicros">The instant (UTC microseconds) against which the view's TTL is checked.</param>
    /// <param name="results">Room for <see cref="FeatureCount"/> values.</param>
    public bool TryRead(ReadOnlySpan<EntityKeyPart> key, long nowMicros, Span<FeatureValue> results)
    {
        if (results.Length < _features.Length)
        {
            return false;
        }

        var length = KeyEncoding.EncodedLength(_index.View, key);
        byte[]? rented = null;
        var buffer = length <= StackKeyBytes ? stackalloc byte[StackKeyBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var encoded = buffer[..length];
            KeyEncoding.Encode(key, encoded);
            _index.TryGet(encoded, out var row);
            Fill(row, nowMicros, results);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return true;
    }

    /// <summary>
    /// Reads many entities: <paramref name="keys"/> holds the key parts of entity after entity, and the results of entity
    /// i land at [i × <see cref="FeatureCount"/>, (i + 1) × <see cref="FeatureCount"/>). Returns false when the buffer is short.
    /// </summary>
    public bool TryReadBatch(ReadOnlySpan<EntityKeyPart> keys, long nowMicros, Span<FeatureValue> results)
    {
        var arity = _index.View.JoinKeys.Count;
        if (keys.Length % arity != 0)
        {
            throw new ArgumentException($"feature view '{_index.View.Name}' has {arity} join key(s); {keys.Length} key parts is not a whole number of entities", nameof(keys));
        }

        var entities = keys.Length / arity;
        if (results.Length < entities * _features.Length)
        {
            return false;
        }

        for (var e = 0; e < entities; e++)
        {
            TryRead(keys.Slice(e * arity, arity), nowMicros, results.Slice(e * _features.Length, _features.Length));
        }

        return true;
    }

    private void Fill(EntityRow? row, long now, Span<FeatureValue> results)
    {
        var features = _features;
        var types = _types;
        if (row is null)
        {
            for (var i = 0; i < features.Length; i++)
            {
                results[i] = new FeatureValue(FeatureStatus.NotFound, types[i], 0, 0, null);
            }

            return;
        }

        var ttl = _index.View.TtlMicros;
        var eventTimestamp = row.EventTimestamp;

        // Feast's rule: expired when event_ts < now − ttl, so a row exactly ttl old is still served.
        if (ttl > 0 && eventTimestamp < now - ttl)
        {
            for (var i = 0; i < features.Length; i++)
            {
                results[i] = new FeatureValue(FeatureStatus.OutsideMaxAge, types[i], eventTimestamp, 0, null);
            }

            return;
        }

        for (var i = 0; i < features.Length; i++)
        {
            var cell = row.Cell(features[i]);
            results[i] = cell.Valid
                ? new FeatureValue(FeatureStatus.Present, types[i], eventTimestamp, cell.Bits, cell.Text)
                : new FeatureValue(FeatureStatus.NullValue, types[i], eventTimestamp, 0, null);
        }
    }
}
