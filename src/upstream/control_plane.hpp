// ControlPlane: every pool's PoolState, run on the control thread — health checks, outlier
// sweeps, slow-start ramps — plus the event history. Whatever changes a pool's serving set is
// published to the workers through the `publish` callback.
#pragma once

#include "config/schema.hpp"
#include "core/asio_scheduler.hpp"
#include "core/event_log.hpp"
#include "core/random.hpp"
#include "upstream/pool_state.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace haven::upstream {

class ControlPlane {
public:
    using Publish = std::function<void(std::shared_ptr<const HostSet>)>;

    ControlPlane(asio::io_context& io, EventLog& events, Publish publish, std::size_t workers = 1);
    ~ControlPlane();

    // Creates the pools of `config`, or, on reload, updates them: pools matched by name keep their
    // servers' state; new pools start; removed pools stop. Throws std::runtime_error (leaving
    // everything as it was) when a server address does not resolve.
    void configure(const config::Config& config);
    // What configure would refuse, without changing anything: every server that does not resolve.
    void check(const config::Config& config, std::vector<std::string>& errors) const;
    // Starts health checks and the 100 ms tick.
    void start();
    void stop();

    // Current snapshots, in config order.
    std::vector<std::shared_ptr<const HostSet>> snapshots() const;
    PoolState* pool(std::string_view name);
    const std::vector<std::unique_ptr<PoolState>>& pools() const { return pools_; }
    // Every checked server has had a first result.
    bool first_round_done() const;
    // The longest health-check timeout of any pool (zero without checks): how long a first round
    // of checks can take.
    Duration longest_check_timeout() const;
    EventLog& events() { return events_; }
    Scheduler& scheduler() { return scheduler_; }

private:
    void arm_tick();

    AsioScheduler scheduler_;
    FastRandom random_;
    EventLog& events_;
    ControlEnv env_;
    std::vector<std::unique_ptr<PoolState>> pools_;
    std::unique_ptr<Timer> tick_;
    bool started_ = false;
};

} // namespace haven::upstream
