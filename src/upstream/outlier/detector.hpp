// src/upstream/outlier: passive health checking on live traffic. Workers count each server's
// consecutive failures (HostSignals, lock-free); the control thread reads them and asks the
// OutlierDetector (a pure state machine; time is a parameter) whether to eject the server from
// the load-balancing set, and when it returns.
//
// Ejection length = base_ejection × (number of times ejected), capped at max_ejection. The count
// decays by one for every base_ejection a server spends in service without being ejected, so a
// server that recovered for good is soon treated as new. At most max_ejected_percent of a pool's
// servers are ejected at once (at least one may always be ejected when the pool has two or more).
#pragma once

#include "core/clock.hpp"
#include "upstream/host.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace haven::upstream {

struct OutlierParams {
    std::uint32_t consecutive_failures = 5; // 0 disables outlier detection
    Duration base_ejection = std::chrono::seconds(30);
    Duration max_ejection = std::chrono::seconds(300);
    std::uint32_t max_ejected_percent = 50;
};

enum class EjectDecision : std::uint8_t {
    None,       // not ejected (already ejected, or detection disabled)
    Ejected,    // ejected until ejected_until(h)
    CapReached, // would exceed max_ejected_percent: stays in service
};

// Why a server was ejected; decides how it may return early (docs/failover.md).
enum class EjectCause : std::uint8_t {
    Connection, // connect failures, resets, timeouts: the server was unreachable or went away;
                // a passing active check shows it is back, so it returns at once
    Response,   // the streak had a 5xx response: the server answers its health path yet fails
                // real requests, so the ejection runs its time
};

// Written by workers, read by the control thread. One per server; shared across workers.
struct HostSignals {
    std::atomic<std::uint32_t> consecutive_failures{0};
    std::atomic<std::uint32_t> consecutive_responses{0}; // the streak's 5xx responses
    // Connects refused (nothing listening): each worker that sees one stops picking the server
    // at once; the control thread sees the count move, takes the server out for every worker and
    // checks it (PoolState::tick). Never reset: HostInfo::refusals_cleared says how many of them
    // a passing check has answered.
    std::atomic<std::uint64_t> refusals{0};

    void on_success() {
        // Read first: successes are the common case and should not dirty the cache line.
        if (consecutive_failures.load(std::memory_order_relaxed) != 0) {
            consecutive_failures.store(0, std::memory_order_relaxed);
            consecutive_responses.store(0, std::memory_order_relaxed);
        }
    }
    // `response`: the server answered with a 5xx (else: no response, see EjectCause).
    std::uint32_t on_failure(bool response = false) {
        if (response) consecutive_responses.fetch_add(1, std::memory_order_relaxed);
        return consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    // Returns the refusal's sequence number (1, 2, ...).
    std::uint64_t on_refused() { return refusals.fetch_add(1, std::memory_order_relaxed) + 1; }
};

class OutlierDetector {
public:
    OutlierDetector(const OutlierParams& params, std::size_t hosts);

    // Host h was seen failing `consecutive_failures` times in a row.
    EjectDecision on_failures(HostIndex h, TimePoint now);
    // Hosts whose ejection has expired by `now` (and are now back); also decays ejection counts.
    std::vector<HostIndex> sweep(TimePoint now);
    // An active health check succeeded on h: an ejected host returns at once (true if it was ejected).
    bool on_check_success(HostIndex h, TimePoint now);

    bool ejected(HostIndex h) const { return hosts_[h].ejected; }
    TimePoint ejected_until(HostIndex h) const { return hosts_[h].until; }
    std::uint32_t ejection_count(HostIndex h) const { return hosts_[h].count; }
    std::size_t ejected_total() const;
    // The pool changed size (reload): state of hosts kept by index; new hosts start clean.
    void resize(std::size_t hosts);
    const OutlierParams& params() const { return params_; }
    void set_params(const OutlierParams& p) { params_ = p; }

private:
    struct State {
        bool ejected = false;
        std::uint32_t count = 0;  // ejections so far (decays)
        TimePoint until{};        // end of the current ejection
        TimePoint last_change{};  // last ejection start or return, for decay
    };
    OutlierParams params_;
    std::vector<State> hosts_;
};

} // namespace haven::upstream
