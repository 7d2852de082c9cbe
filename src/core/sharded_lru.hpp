// ShardedLru: a bounded map from 64-bit key hashes to small values, shared by every worker
// thread. Keys are spread over shards, each behind a mutex held for one lookup and the caller's
// arithmetic, as HAProxy's stick tables and nginx's limit_req zone lock theirs. Memory is bounded:
// each shard keeps at most max_keys / shards entries and drops the least recently used; once
// full, a new key reuses the dropped entry's memory, so a flood of new keys allocates nothing.
// Rate limits (policy/rate_limit) and stick tables (session/stick_table) are built on it.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <utility>
#include <unordered_map>

namespace haven {

template <class Value>
class ShardedLru {
public:
    static constexpr std::size_t kShards = 16;

    explicit ShardedLru(std::size_t max_keys)
        : per_shard_(std::max<std::size_t>(1, (std::max<std::size_t>(max_keys, 1) + kShards - 1) / kShards)),
          shards_(new Shard[kShards]) {}
    ShardedLru(const ShardedLru&) = delete;
    ShardedLru& operator=(const ShardedLru&) = delete;

    // Runs f(Value&, bool fresh) under the key's shard lock on its entry, made the most recent;
    // `fresh`: the key was absent and its value is Value{}. `live(const Value&)` tells whether an
    // entry dropped to make room still mattered (counted in evictions()). Returns f's result.
    template <class Live, class F>
    auto upsert(std::uint64_t key, Live&& live, F&& f) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        bool fresh = false;
        Entry& e = find_or_add(s, key, live, fresh);
        return f(e.value, fresh);
    }

    // Runs f(Value&) under the lock if the key is present (made the most recent); whether it was.
    template <class F>
    bool find(std::uint64_t key, F&& f) {
        Shard& s = shard(key);
        std::lock_guard lock(s.mu);
        const auto it = s.index.find(key);
        if (it == s.index.end()) return false;
        s.lru.splice(s.lru.begin(), s.lru, it->second);
        f(s.lru.front().value);
        return true;
    }

    // The shard a key lives in, and f() run under that shard's lock: a caller keeping per-shard
    // state of its own guards it with the lock the key's upsert() already holds.
    static std::size_t shard_index(std::uint64_t key) { return (key ^ (key >> 29)) % kShards; }
    template <class F>
    void locked(std::size_t shard, F&& f) {
        std::lock_guard lock(shards_[shard].mu);
        f();
    }

    std::size_t size() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < kShards; ++i) {
            std::lock_guard lock(shards_[i].mu);
            n += shards_[i].lru.size();
        }
        return n;
    }

    std::uint64_t evictions() const {
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < kShards; ++i) {
            std::lock_guard lock(shards_[i].mu);
            n += shards_[i].evictions;
        }
        return n;
    }

    // Memory one key costs in a full table (list node, index node, bucket), for docs and benches.
    // glibc malloc rounds each allocation up to a multiple of 16 with 8 bytes of header.
    static std::size_t bytes_per_key() {
        const auto chunk = [](std::size_t n) { return (n + 8 + 15) / 16 * 16; };
        const std::size_t list_node = chunk(sizeof(Entry) + 2 * sizeof(void*));
        const std::size_t map_node = chunk(sizeof(void*) + sizeof(std::uint64_t) + sizeof(typename List::iterator));
        return list_node + map_node + sizeof(void*); // one bucket pointer per key at load factor 1
    }

private:
    struct Entry {
        std::uint64_t key = 0;
        Value value{};
    };
    using List = std::list<Entry>;
    struct Shard {
        mutable std::mutex mu;
        List lru; // most recent first
        std::unordered_map<std::uint64_t, typename List::iterator> index;
        std::uint64_t evictions = 0;
    };

    Shard& shard(std::uint64_t key) { return shards_[shard_index(key)]; }

    // Rules: a known key moves to the front; a new key takes a new entry while the shard has
    // room, else the least recently used entry's (its index node is re-keyed in place, so a full
    // table allocates nothing); dropping an entry that is no longer live loses nothing.
    template <class Live>
    Entry& find_or_add(Shard& s, std::uint64_t key, Live& live, bool& fresh) {
        if (const auto it = s.index.find(key); it != s.index.end()) {
            s.lru.splice(s.lru.begin(), s.lru, it->second);
            return s.lru.front();
        }
        fresh = true;
        if (s.lru.size() < per_shard_) {
            s.lru.push_front(Entry{key, {}});
            s.index.emplace(key, s.lru.begin());
            return s.lru.front();
        }
        auto victim = std::prev(s.lru.end());
        if (live(std::as_const(victim->value))) ++s.evictions;
        auto node = s.index.extract(victim->key);
        node.key() = key;
        s.index.insert(std::move(node));
        victim->key = key;
        victim->value = Value{};
        s.lru.splice(s.lru.begin(), s.lru, victim);
        return s.lru.front();
    }

    std::size_t per_shard_;
    std::unique_ptr<Shard[]> shards_;
};

} // namespace haven
