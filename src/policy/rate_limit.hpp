// src/policy: what a route does to a request before it is balanced — rate limits (this file),
// circuit breakers' gates, fault injection — and what it answers instead (policy_set.hpp).
//
// Rate limiting is GCRA (the generic cell rate algorithm, as in ATM networks, redis-cell and
// nginx's limit_req): one timestamp per key and limit, the "theoretical arrival time" (TAT). A
// limit of N per P admits a request at `now` if TAT - now <= burst interval, and then moves TAT
// to max(TAT, now) + P/N. So a fresh key may spend its whole quota at once (burst = N by
// default) and then one request every P/N; over a long run the rate is exactly N per P.
// Accuracy at window edges: in any window of length P at most N + (N - 1) requests pass (a full
// burst, then the steady rate); `burst: 1` paces requests evenly instead (at most N + 1 in any P).
// Why GCRA and not a sliding-window log: exact windows cost a timestamp per request per key;
// GCRA costs 8 bytes per key and limit, and its delay mode is nginx's burst semantics.
//
// One LimitTable serves every worker thread (a limit means the same whatever `threads:` is); it
// is a ShardedLru (core/sharded_lru.hpp): sharded locks, bounded memory, least recently used
// keys dropped first.
//
// A shared table (several haven instances, one limit: shared/limit_sharing.hpp) also counts, per
// key, the requests it admitted since the control thread last took them (take_unsynced), and
// lists the keys that have such requests, under the lock the request already holds; the control
// thread sends those counts to Redis and merges back the instances' common TATs (merge). The
// request path never waits on Redis.
#pragma once

#include "core/clock.hpp"
#include "core/sharded_lru.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace haven::policy {

inline constexpr std::size_t kMaxLimitsPerTable = 4;

// One limit: `count` requests per `period`, `burst` of them at once (0: count).
struct Limit {
    std::uint64_t count = 1;
    Duration period = std::chrono::seconds(1);
    std::uint64_t burst = 0;

    Duration interval() const { return period / static_cast<Duration::rep>(count); }
    std::uint64_t effective_burst() const { return burst ? burst : count; }
};

// The outcome for one request, against every limit of a table.
struct LimitDecision {
    enum class Kind : std::uint8_t { Allowed, Delayed, Rejected };
    Kind kind = Kind::Allowed;
    Duration wait{0};        // Delayed: how long to hold the request; Rejected: Retry-After
    std::size_t limit = 0;   // the most constraining limit (for the RateLimit fields)
    std::uint64_t remaining = 0; // requests that limit still admits now
    Duration reset{0};           // until that limit has its whole burst again
};

// Pure GCRA on one TAT value (nanoseconds on the steady clock). `max_delay` > 0 admits a request
// that would have to wait up to that long, telling it how long (nginx limit_req with burst).
LimitDecision gcra_check(const Limit& limit, std::int64_t tat, std::int64_t now, Duration max_delay);
// The TAT after admitting one request.
std::int64_t gcra_admit(const Limit& limit, std::int64_t tat, std::int64_t now);

class LimitTable {
public:
    // `limits`: at most kMaxLimitsPerTable, all enforced together. `max_keys` >= 1. `shared`:
    // count admissions for take_unsynced().
    LimitTable(std::vector<Limit> limits, std::size_t max_keys, Duration max_delay = Duration::zero(),
               bool shared = false);
    LimitTable(const LimitTable&) = delete;
    LimitTable& operator=(const LimitTable&) = delete;

    // Checks key's limits at `now` and, unless rejected, counts the request against all of them.
    LimitDecision acquire(std::uint64_t key_hash, TimePoint now);

    const std::vector<Limit>& limits() const { return limits_; }
    std::size_t keys() const;
    std::uint64_t evictions() const;
    bool shared() const { return shared_ != nullptr; }

    // Shared tables, on the control thread: appends each key with requests admitted since the last
    // call, and how many, to `out`, and starts counting again from zero.
    struct Unsynced {
        std::uint64_t key = 0;
        std::uint32_t admitted = 0;
    };
    void take_unsynced(std::vector<Unsynced>& out);
    // Shared tables: the instances' common TATs of `key`, as how far each limit's runs ahead of
    // `now` (one per limit); each local TAT becomes the later of the two.
    void merge(std::uint64_t key, const std::array<Duration, kMaxLimitsPerTable>& ahead, TimePoint now);
    // Admissions not counted for sharing because a shard's list of keys to send was full.
    std::uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }
    // At most this many keys per shard wait to be sent between two take_unsynced() calls.
    static constexpr std::size_t kMaxUnsyncedPerShard = 4096;
    static constexpr std::size_t kShards = ShardedLru<int>::kShards;
    // Memory one key costs in a full table (entry, index node, buckets), for docs and the bench.
    static std::size_t bytes_per_key();

private:
    using Tats = std::array<std::int64_t, kMaxLimitsPerTable>;
    struct SharedTats {
        Tats tat{};
        std::uint32_t unsynced = 0; // admitted since the last take_unsynced()
    };
    // The keys with unsynced admissions, per shard, guarded by that shard's lock.
    struct SharedState {
        explicit SharedState(std::size_t max_keys);
        ShardedLru<SharedTats> table;
        std::array<std::vector<std::uint64_t>, ShardedLru<int>::kShards> dirty;
        std::size_t dirty_cap;
        std::vector<std::uint64_t> draining; // control thread only
    };
    LimitDecision decide(Tats& tat, std::int64_t now) const;
    bool live(const Tats& tat, std::int64_t now) const;

    std::vector<Limit> limits_;
    Duration max_delay_;
    std::unique_ptr<ShardedLru<Tats>> local_;   // a table of this instance's own
    std::unique_ptr<SharedState> shared_;       // or one shared with other instances
    std::atomic<std::uint64_t> untracked_{0};
};

} // namespace haven::policy
