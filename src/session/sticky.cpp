#include "session/sticky.hpp"

#include "session/cookie.hpp"
#include "upstream/lb/load_balancer.hpp"

namespace haven::session {

Stickiness::Stickiness(const config::Pool& pool, std::size_t workers, std::shared_ptr<StickTable> table)
    : config_(pool.sticky.value_or(config::Sticky{})), pool_name_(pool.name), table_(std::move(table)),
      counters_(workers) {
    for (const auto& s : pool.servers) {
        values_.push_back(s.cookie.empty() ? derived_cookie_value(pool.name, s.name) : s.cookie);
        lines_.push_back(config_.cookie ? session::insert_lines(*config_.cookie, values_.back()) : std::string());
        // Never 0 (the table's "none"): a server's id is the hash of its cookie value.
        keys_.push_back(upstream::hash_key(values_.back()) | 1);
    }
    if (!table_ && config_.table) {
        const auto& t = *config_.table;
        table_ = std::make_shared<StickTable>(t.size, std::chrono::duration_cast<Duration>(t.expire));
    }
}

std::size_t Stickiness::host_of_value(std::string_view value) const {
    // A linear scan: pools have a handful of servers, and each comparison stops at the first byte
    // that differs.
    for (std::size_t i = 0; i < values_.size(); ++i) {
        if (values_[i] == value) return i;
    }
    return SIZE_MAX;
}

std::size_t Stickiness::host_of_key(std::uint64_t key) const {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i] == key) return i;
    }
    return SIZE_MAX;
}

StickyTotals Stickiness::total() const {
    StickyTotals out;
    for (std::size_t w = 0; w < counters_.size(); ++w) {
        const auto& c = counters_.at(w);
        out.cookie_hits += c.cookie_hits.get();
        out.table_hits += c.table_hits.get();
        out.redispatched += c.redispatched.get();
        out.refused += c.refused.get();
        out.assigned += c.assigned.get();
    }
    return out;
}

bool Stickiness::same_table(const config::Pool& pool, const Stickiness& old) {
    const auto* now = pool.sticky && pool.sticky->table ? &*pool.sticky->table : nullptr;
    const auto* was = old.config_.table ? &*old.config_.table : nullptr;
    return now && was && *now == *was && old.table_;
}

} // namespace haven::session
