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

// Written by workers, read by the control thread. One per server; shared across workers.
struct HostSignals {
    std::atomic<std::uint32_t> consecutive_failures{0};
    void on_success() {
        // Read first: successes are the common case and should not dirty the cache line.
        if (consecutive_failures.load(std::memory_order_relaxed) != 0) {
            consecutive_failures.store(0, std::memory_order_relaxed);
        }
    }
    std::uint32_t on_failure() { return consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1; }
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
