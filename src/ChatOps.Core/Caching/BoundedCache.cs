using System.Collections.Concurrent;

namespace ChatOps.Core.Caching;

/// <summary>
/// Values that never change once known (a posted message's key, a card's deployment, a pinned migration's plan), kept in memory
/// so a burst of events asks for each once. Bounded the simple way: when full it starts again empty — what is asked for again
/// is read again, never wrong.
/// </summary>
public sealed class BoundedCache<TKey, TValue>(int capacity) where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TValue> _values = new();

    public bool TryGet(TKey key, out TValue value) => _values.TryGetValue(key, out value!);

    public TValue Keep(TKey key, TValue value)
    {
        if (_values.Count >= capacity)
            _values.Clear();
        return _values[key] = value;
    }
}
