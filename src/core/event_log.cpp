#include "core/event_log.hpp"

#include "core/clock.hpp"

#include <spdlog/spdlog.h>

namespace haven {

std::uint64_t EventLog::add(std::string kind, std::string pool, std::string server, std::string detail) {
    Event e;
    e.time_us = wall_time_us();
    e.kind = std::move(kind);
    e.pool = std::move(pool);
    e.server = std::move(server);
    e.detail = std::move(detail);
    // One line per decision, key=value so that log pipelines can parse it.
    spdlog::info("event={} pool={} server={} detail=\"{}\"", e.kind, e.pool.empty() ? "-" : e.pool,
                 e.server.empty() ? "-" : e.server, e.detail);
    std::lock_guard lock(mu_);
    e.seq = ++seq_;
    ++counts_[e.kind];
    events_.push_back(std::move(e));
    while (events_.size() > capacity_) events_.pop_front();
    return seq_;
}

std::vector<Event> EventLog::since(std::uint64_t after, std::size_t max) const {
    std::lock_guard lock(mu_);
    std::vector<Event> out;
    for (const auto& e : events_) {
        if (e.seq > after) out.push_back(e);
    }
    if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max));
    return out;
}

std::map<std::string, std::uint64_t> EventLog::counts() const {
    std::lock_guard lock(mu_);
    return counts_;
}

std::uint64_t EventLog::count(const std::string& kind) const {
    std::lock_guard lock(mu_);
    const auto it = counts_.find(kind);
    return it == counts_.end() ? 0 : it->second;
}

std::uint64_t EventLog::last_seq() const {
    std::lock_guard lock(mu_);
    return seq_;
}

} // namespace haven
