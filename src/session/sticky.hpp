// Stickiness: one pool's session persistence as the data plane uses it — its sticky cookie's
// value per server (and the Set-Cookie lines haven inserts, built once), its stick table, and
// the counters. The control thread builds it with the pool and keeps the same object (and so the
// table's entries) across reloads that leave the pool's `sticky:` and server names as they were;
// every HostSet of the pool points at it.
//
// The decision itself (which server a request sticks to, what to add to the response) is in
// src/proxy/stages/sticky.cpp; the text work on cookies in cookie.hpp.
#pragma once

#include "config/schema.hpp"
#include "core/counters.hpp"
#include "session/stick_table.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace haven::session {

struct StickyCounters {
    Counter cookie_hits;     // the request's cookie named a server that took it
    Counter table_hits;      // the stick table named a server that took it
    Counter redispatched;    // the sticky server could not take it: another one did
    Counter refused;         // ... and redispatch is off: answered 503
    Counter assigned;        // a response stuck its client to a server (cookie set or table entry written)
};

struct StickyTotals {
    std::uint64_t cookie_hits = 0, table_hits = 0, redispatched = 0, refused = 0, assigned = 0;
};

// A write to the stick table that other haven instances should hear of (shared state).
struct StickWrite {
    std::uint64_t key = 0;
    std::uint64_t server = 0;
    std::int64_t stamp = 0;
};

// Receives stick table writes from worker threads (shared state).
class StickSink {
public:
    virtual ~StickSink() = default;
    virtual void write(const std::string& pool, std::size_t worker, const StickWrite& w) = 0;
};

class Stickiness {
public:
    // `workers`: the counters' slots. `table` reuses a table kept from before a reload (null: new).
    Stickiness(const config::Pool& pool, std::size_t workers, std::shared_ptr<StickTable> table);

    const config::Sticky& config() const { return config_; }
    const config::StickyCookie* cookie() const { return config_.cookie ? &*config_.cookie : nullptr; }
    StickTable* table() const { return table_.get(); }
    const std::shared_ptr<StickTable>& shared_table() const { return table_; }

    // Per server, in config order (HostIndex): its cookie value, the lines inserted for it, the
    // 64-bit id the stick table stores.
    std::size_t servers() const { return values_.size(); }
    const std::string& value(std::size_t host) const { return values_[host]; }
    std::string_view insert_lines(std::size_t host) const { return lines_[host]; }
    std::uint64_t server_key(std::size_t host) const { return keys_[host]; }
    // The server a cookie value or a table's server id names; SIZE_MAX when none does.
    std::size_t host_of_value(std::string_view value) const;
    std::size_t host_of_key(std::uint64_t key) const;

    StickyCounters& counters(std::size_t worker) { return counters_.at(worker); }
    StickyTotals total() const;

    // Shared state: where table writes go besides the local table. The shared-state subsystem
    // attaches its sink (on the control thread, at any time) and guarantees it outlives the
    // workers; workers call published() for each write that other instances should hear of.
    void attach(StickSink* sink) const { sink_.store(sink, std::memory_order_release); }
    bool shared() const { return sink_.load(std::memory_order_acquire) != nullptr; }
    void published(std::size_t worker, const StickWrite& w) const {
        if (auto* s = sink_.load(std::memory_order_acquire)) s->write(pool_name_, worker, w);
    }
    const std::string& pool_name() const { return pool_name_; }

    // Whether a reload from `old` to `pool` may keep `old`'s table: same table settings.
    static bool same_table(const config::Pool& pool, const Stickiness& old);

private:
    config::Sticky config_;
    std::string pool_name_;
    std::vector<std::string> values_;
    std::vector<std::string> lines_;
    std::vector<std::uint64_t> keys_;
    std::shared_ptr<StickTable> table_;
    PerWorker<StickyCounters> counters_;
    mutable std::atomic<StickSink*> sink_{nullptr};
};

} // namespace haven::session
