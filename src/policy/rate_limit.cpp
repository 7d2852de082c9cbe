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

LimitTable::SharedState::SharedState(std::size_t max_keys)
    : table(max_keys),
      dirty_cap(std::min(kMaxUnsyncedPerShard, (std::max<std::size_t>(max_keys, 1) + ShardedLru<int>::kShards - 1) /
                                                   ShardedLru<int>::kShards)) {
    // Reserved up front: a request adds its key without allocating.
    for (auto& d : dirty) d.reserve(dirty_cap);
    draining.reserve(dirty_cap);
}

LimitTable::LimitTable(std::vector<Limit> limits, std::size_t max_keys, Duration max_delay, bool shared)
    : limits_(std::move(limits)), max_delay_(max_delay) {
    if (limits_.size() > kMaxLimitsPerTable) limits_.resize(kMaxLimitsPerTable);
    if (shared) shared_ = std::make_unique<SharedState>(max_keys);
    else local_ = std::make_unique<ShardedLru<Tats>>(max_keys);
}

// An entry whose every TAT has passed is as good as absent, so dropping it loses nothing.
bool LimitTable::live(const Tats& tat, std::int64_t now) const {
    for (std::size_t i = 0; i < limits_.size(); ++i) {
        if (tat[i] > now) return true;
    }
    return false;
}

std::size_t LimitTable::keys() const { return local_ ? local_->size() : shared_->table.size(); }
std::uint64_t LimitTable::evictions() const { return local_ ? local_->evictions() : shared_->table.evictions(); }

LimitDecision LimitTable::acquire(std::uint64_t key_hash, TimePoint now_tp) {
    const std::int64_t now = now_tp.time_since_epoch().count();
    if (local_) {
        return local_->upsert(key_hash, [&](const Tats& t) { return live(t, now); },
                              [&](Tats& tat, bool) { return decide(tat, now); });
    }
    auto& sh = *shared_;
    return sh.table.upsert(key_hash, [&](const SharedTats& v) { return live(v.tat, now); },
                           [&](SharedTats& v, bool) {
                               const LimitDecision d = decide(v.tat, now);
                               if (d.kind == LimitDecision::Kind::Rejected) return d;
                               // Under the shard's lock: the key's list is that shard's.
                               if (v.unsynced == 0) {
                                   auto& list = sh.dirty[ShardedLru<SharedTats>::shard_index(key_hash)];
                                   if (list.size() >= sh.dirty_cap) {
                                       untracked_.fetch_add(1, std::memory_order_relaxed);
                                       return d;
                                   }
                                   list.push_back(key_hash);
                               }
                               ++v.unsynced;
                               return d;
                           });
}

void LimitTable::take_unsynced(std::vector<Unsynced>& out) {
    if (!shared_) return;
    auto& sh = *shared_;
    for (std::size_t i = 0; i < sh.dirty.size(); ++i) {
        sh.draining.clear();
        sh.table.locked(i, [&] { sh.dirty[i].swap(sh.draining); });
        // A key admitted again meanwhile is still counting (unsynced > 0), so it is not listed
        // twice: its new requests are taken with the rest here.
        for (const std::uint64_t key : sh.draining) {
            sh.table.find(key, [&](SharedTats& v) {
                if (v.unsynced) out.push_back({key, v.unsynced});
                v.unsynced = 0;
            });
        }
    }
    sh.draining.clear();
}

void LimitTable::merge(std::uint64_t key, const std::array<Duration, kMaxLimitsPerTable>& ahead, TimePoint now_tp) {
    if (!shared_) return;
    const std::int64_t now = now_tp.time_since_epoch().count();
    shared_->table.upsert(key, [&](const SharedTats& v) { return live(v.tat, now); }, [&](SharedTats& v, bool) {
        for (std::size_t i = 0; i < limits_.size(); ++i) v.tat[i] = std::max(v.tat[i], now + ns(ahead[i]));
    });
}

LimitDecision LimitTable::decide(Tats& tat, std::int64_t now) const {
    // Every limit must pass: a refusal by one leaves them all untouched; otherwise all count it.
    LimitDecision out;
    out.remaining = std::numeric_limits<std::uint64_t>::max();
    bool rejected = false;
    for (std::size_t i = 0; i < limits_.size(); ++i) {
        const LimitDecision d = gcra_check(limits_[i], tat[i], now, max_delay_);
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
    for (std::size_t i = 0; i < limits_.size(); ++i) tat[i] = gcra_admit(limits_[i], tat[i], now);
    return out;
}

std::size_t LimitTable::bytes_per_key() { return ShardedLru<Tats>::bytes_per_key(); }

} // namespace haven::policy
