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
#pragma once

#include "core/clock.hpp"
#include "core/sharded_lru.hpp"

#include <array>
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
    // `limits`: at most kMaxLimitsPerTable, all enforced together. `max_keys` >= 1.
    LimitTable(std::vector<Limit> limits, std::size_t max_keys, Duration max_delay = Duration::zero());
    LimitTable(const LimitTable&) = delete;
    LimitTable& operator=(const LimitTable&) = delete;

    // Checks key's limits at `now` and, unless rejected, counts the request against all of them.
    LimitDecision acquire(std::uint64_t key_hash, TimePoint now);

    const std::vector<Limit>& limits() const { return limits_; }
    std::size_t keys() const { return table_.size(); }
    std::uint64_t evictions() const { return table_.evictions(); }
    static constexpr std::size_t kShards = ShardedLru<int>::kShards;
    // Memory one key costs in a full table (entry, index node, buckets), for docs and the bench.
    static std::size_t bytes_per_key();

private:
    using Tats = std::array<std::int64_t, kMaxLimitsPerTable>;
    LimitDecision decide(Tats& tat, std::int64_t now) const;

    std::vector<Limit> limits_;
    Duration max_delay_;
    ShardedLru<Tats> table_;
};

} // namespace haven::policy
