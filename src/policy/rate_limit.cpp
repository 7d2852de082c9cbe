#include "policy/rate_limit.hpp"

#include <algorithm>
#include <limits>

namespace haven::policy {
namespace {

std::int64_t ns(Duration d) { return static_cast<std::int64_t>(d.count()); }

// Burst tolerance: how far ahead of now the TAT may run and a request still pass.
std::int64_t tolerance(const Limit& l) {
    return ns(l.interval()) * static_cast<std::int64_t>(l.effective_burst() - 1);
}

} // namespace

LimitDecision gcra_check(const Limit& limit, std::int64_t tat, std::int64_t now, Duration max_delay) {
    // Rules: a TAT in the past is now (an idle key has its whole burst); the request passes when
    // the TAT is at most `tolerance` ahead of now; else it may wait up to max_delay; else it is
    // refused and told when the first request would pass again.
    const std::int64_t t = ns(limit.interval());
    const std::int64_t tau = tolerance(limit);
    const std::int64_t base = std::max(tat, now);
    LimitDecision d;
    const std::int64_t wait = base - tau - now;
    if (wait > 0) {
        d.wait = Duration(wait);
        d.kind = wait <= ns(max_delay) ? LimitDecision::Kind::Delayed : LimitDecision::Kind::Rejected;
    }
    const std::int64_t next = (d.kind == LimitDecision::Kind::Rejected ? base : base + t) - now;
    // Requests that would still pass now after this one: (tau - (next - t)) / t.
    const std::int64_t room = tau - next + t;
    d.remaining = room >= t ? static_cast<std::uint64_t>(room / t) : 0;
    d.reset = Duration(std::max<std::int64_t>(0, next));
    return d;
}

std::int64_t gcra_admit(const Limit& limit, std::int64_t tat, std::int64_t now) {
    return std::max(tat, now) + ns(limit.interval());
}

LimitTable::LimitTable(std::vector<Limit> limits, std::size_t max_keys, Duration max_delay)
    : limits_(std::move(limits)),
      per_shard_(std::max<std::size_t>(1, (std::max<std::size_t>(max_keys, 1) + kShards - 1) / kShards)),
      max_delay_(max_delay),
      shards_(new Shard[kShards]) {
    if (limits_.size() > kMaxLimitsPerTable) limits_.resize(kMaxLimitsPerTable);
}

LimitTable::Entry& LimitTable::find_or_add(Shard& s, std::uint64_t key, std::int64_t now) {
    // Rules: a known key moves to the front; a new key takes a new entry while the shard has
    // room, else the least recently used entry's (its map node is re-keyed in place, so a full
    // table allocates nothing); an entry whose every TAT has passed is as good as absent, so
    // evicting it loses nothing.
    if (const auto it = s.index.find(key); it != s.index.end()) {
        s.lru.splice(s.lru.begin(), s.lru, it->second);
        return s.lru.front();
    }
    if (s.lru.size() < per_shard_) {
        s.lru.push_front(Entry{key, {}});
        s.index.emplace(key, s.lru.begin());
        return s.lru.front();
    }
    auto victim = std::prev(s.lru.end());
    bool expired = true;
    for (std::size_t i = 0; i < limits_.size(); ++i) expired = expired && victim->tat[i] <= now;
    if (!expired) ++s.evictions;
    auto node = s.index.extract(victim->key);
    node.key() = key;
    s.index.insert(std::move(node));
    victim->key = key;
    victim->tat.fill(0);
    s.lru.splice(s.lru.begin(), s.lru, victim);
    return s.lru.front();
}

LimitDecision LimitTable::acquire(std::uint64_t key_hash, TimePoint now_tp) {
    const std::int64_t now = now_tp.time_since_epoch().count();
    Shard& s = shards_[(key_hash ^ (key_hash >> 29)) % kShards];
    std::lock_guard lock(s.mu);
    Entry& e = find_or_add(s, key_hash, now);
    // Every limit must pass: a refusal by one leaves them all untouched; otherwise all count it.
    LimitDecision out;
    out.remaining = std::numeric_limits<std::uint64_t>::max();
    bool rejected = false;
    for (std::size_t i = 0; i < limits_.size(); ++i) {
        const LimitDecision d = gcra_check(limits_[i], e.tat[i], now, max_delay_);
        if (d.kind == LimitDecision::Kind::Rejected) {
            if (!rejected || d.wait > out.wait) {
                out = d;
                out.limit = i;
            }
            rejected = true;
            continue;
        }
        if (rejected) continue;
        if (d.kind == LimitDecision::Kind::Delayed) out.kind = LimitDecision::Kind::Delayed;
        out.wait = std::max(out.wait, d.wait);
        if (d.remaining < out.remaining || (d.remaining == out.remaining && d.reset > out.reset)) {
            out.remaining = d.remaining;
            out.reset = d.reset;
            out.limit = i;
        }
    }
    if (rejected) return out;
    for (std::size_t i = 0; i < limits_.size(); ++i) e.tat[i] = gcra_admit(limits_[i], e.tat[i], now);
    return out;
}

std::size_t LimitTable::keys() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < kShards; ++i) {
        std::lock_guard lock(shards_[i].mu);
        n += shards_[i].lru.size();
    }
    return n;
}

std::uint64_t LimitTable::evictions() const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < kShards; ++i) {
        std::lock_guard lock(shards_[i].mu);
        n += shards_[i].evictions;
    }
    return n;
}

std::size_t LimitTable::bytes_per_key() {
    // glibc malloc rounds each allocation up to a multiple of 16 with 8 bytes of header.
    const auto chunk = [](std::size_t n) { return (n + 8 + 15) / 16 * 16; };
    const std::size_t list_node = chunk(sizeof(Entry) + 2 * sizeof(void*));
    const std::size_t map_node = chunk(sizeof(void*) + sizeof(std::uint64_t) + sizeof(std::list<Entry>::iterator));
    const std::size_t bucket = sizeof(void*); // load factor about 1
    return list_node + map_node + bucket;
}

} // namespace haven::policy
