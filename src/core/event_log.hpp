// EventLog: the history of every high-availability decision — a server going down or up, an
// ejection and a return, a failover to another tier, an admin action, a reload — with the time
// and the reason. Kept in memory (the last `capacity` events) for the admin API and the
// dashboard; each event is also one structured log line. Thread-safe: written by the control
// thread, read by the admin server.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace haven {

struct Event {
    std::uint64_t seq = 0;     // 1, 2, 3, ... in the order events happened
    std::int64_t time_us = 0;  // wall clock, microseconds since the Unix epoch
    std::string kind;          // server_down, server_up, ejected, returned, failover, ...
    std::string pool;
    std::string server;        // empty for pool-wide events
    std::string detail;        // the reason: "timeout", "status 503", "tier 0 -> 1", ...
};

class EventLog {
public:
    explicit EventLog(std::size_t capacity = 1000) : capacity_(capacity) {}

    // Records an event (and logs it). Returns its sequence number.
    std::uint64_t add(std::string kind, std::string pool, std::string server, std::string detail);

    // Events with seq > after, oldest first, at most `max` (the most recent ones).
    std::vector<Event> since(std::uint64_t after = 0, std::size_t max = SIZE_MAX) const;
    // How many events of each kind ever happened (not bounded by capacity).
    std::map<std::string, std::uint64_t> counts() const;
    std::uint64_t count(const std::string& kind) const;
    std::uint64_t last_seq() const;

private:
    mutable std::mutex mu_;
    std::size_t capacity_;
    std::deque<Event> events_;
    std::map<std::string, std::uint64_t> counts_;
    std::uint64_t seq_ = 0;
};

} // namespace haven
