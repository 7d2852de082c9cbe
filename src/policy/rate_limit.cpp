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
    : limits_(std::move(limits)), max_delay_(max_delay), table_(max_keys) {
    if (limits_.size() > kMaxLimitsPerTable) limits_.resize(kMaxLimitsPerTable);
}

LimitDecision LimitTable::acquire(std::uint64_t key_hash, TimePoint now_tp) {
    const std::int64_t now = now_tp.time_since_epoch().count();
    // An entry whose every TAT has passed is as good as absent, so dropping it loses nothing.
    const auto live = [&](const Tats& tat) {
        for (std::size_t i = 0; i < limits_.size(); ++i) {
            if (tat[i] > now) return true;
        }
        return false;
    };
    return table_.upsert(key_hash, live, [&](Tats& tat, bool) { return decide(tat, now); });
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
