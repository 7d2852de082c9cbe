// PoolState: the control thread's view of one pool — each server's health (active checks),
// ejection (outlier detection on live traffic), admin state (ready / drain / maint), slow-start
// ramp — and the decision of which servers serve (tiers.hpp). Every change that alters the serving
// set publishes a new HostSet to the workers and records an event (server_down, server_up,
// ejected, returned, failover, ...) with its reason.
#pragma once

#include "config/schema.hpp"
#include "core/event_log.hpp"
#include "core/random.hpp"
#include "core/scheduler.hpp"
#include "upstream/health/checker.hpp"
#include "upstream/host_set.hpp"
#include "upstream/outlier/detector.hpp"

#include <asio/io_context.hpp>

#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace haven::upstream {

// Makes the probe for one server (tests substitute fakes). `target` has the check's port.
using ProbeFactory = std::function<std::unique_ptr<Probe>(const config::HealthCheck& check,
                                                          const config::Server& server,
                                                          const asio::ip::tcp::endpoint& target)>;

// What pool states need from the control thread.
struct ControlEnv {
    asio::io_context& io; // probes run here
    Scheduler& scheduler; // check intervals, ramps
    Random& random;       // jitter
    EventLog& events;
    // Hands a new snapshot of a pool to the workers.
    std::function<void(std::shared_ptr<const HostSet>)> publish;
    ProbeFactory make_probe; // empty: real TCP/HTTP probes on `io`
    std::size_t workers = 1; // worker threads (per-worker metric slots)
};

// A server as the admin API and the metrics show it.
struct ServerStatus {
    std::string name;
    std::string address;
    HealthStatus health = HealthStatus::Up;
    AdminState admin = AdminState::Ready;
    bool ejected = false;
    bool refused = false;        // out of rotation after a refused connect, until a check passes
    bool region_down = false;    // its `region` is down
    bool serving = false;        // in the eligible set now
    bool checked = false;        // has an active health check
    std::uint32_t weight = 0;    // configured (or set by the admin API)
    std::uint32_t effective_weight = 0; // after slow start, in units of kWeightScale
    std::uint32_t priority = 0;
    std::string last_check;      // "ok", "timeout", "status 503", ... ("" before the first)
    double last_check_ms = 0;
    std::int64_t last_check_time_us = 0;
    std::uint64_t checks = 0;
    std::uint64_t check_failures = 0;
    std::uint32_t ejections = 0;       // current (decaying) ejection count
    std::uint64_t ejections_total = 0; // ever
    std::uint64_t refusals_total = 0;  // times taken out for a refused connect
    // The postgres check's last answer: "primary", "replica" or "unknown" (no such check, or
    // no answer yet), and a replica's replay lag.
    std::string role = "unknown";
    double lag_seconds = 0;
};

// One word for what matters most about a server now: maint, drain, ejected, down, refused, up.
const char* state_name(const ServerStatus& s);

class PoolState {
public:
    // Resolves the servers' addresses; throws std::runtime_error naming a server that does not resolve.
    PoolState(ControlEnv& env, const config::Pool& pool, std::uint32_t pool_id);
    ~PoolState();
    PoolState(const PoolState&) = delete;
    PoolState& operator=(const PoolState&) = delete;

    // Starts the health checks.
    void start();
    // A reloaded definition of the same pool. Servers whose name and address are unchanged keep
    // their health, ejection and admin state (unless the config sets `state`) and their checks.
    void reconfigure(const config::Pool& pool, std::uint32_t pool_id);
    // Every 100 ms: reads the workers' failure counters, ends expired ejections, advances slow starts.
    void tick(TimePoint now);

    // Admin actions; false if there is no such server.
    bool set_admin(std::string_view server, AdminState state, std::string_view why);
    // A supervised replica's readiness probe passed: the same evidence as a check that connects,
    // so an ejection that connect failures caused ends now (one for bad responses runs its time).
    bool probe_passed(std::string_view server, std::string_view why);
    // The health of each server's `region` (dns/regions.hpp), from the DNS subsystem: a server
    // whose region is down is out of rotation like an unhealthy one, so the next tier serves.
    void set_region(std::string_view region, bool up, std::string_view why);
    // set_region for every region whose state `region_up` (nullopt: unknown, taken as up) differs
    // from what this pool's servers have; cheap when nothing changed (the DNS subsystem polls).
    void sync_regions(const std::function<std::optional<bool>(std::string_view)>& region_up);
    bool set_weight(std::string_view server, std::uint32_t weight);

    const std::string& name() const { return config_.name; }
    const config::Pool& config() const { return config_; }
    std::shared_ptr<const HostSet> current() const { return current_; }
    std::vector<ServerStatus> status() const;
    // True once every checked server has had at least one result (or none is checked).
    bool first_round_done() const;
    bool settled() const;
    std::uint64_t failovers() const { return failovers_; }
    // role: primary pools (docs/database-ha.md): servers up and claiming primary at the last
    // publish (1 when all is well; 0: no writes; 2+: split brain, no writes either), and how many
    // times two or more claimed it at once.
    std::uint32_t primaries() const { return primaries_; }
    std::uint64_t split_brains() const { return split_brains_; }
    // The pool's circuit breaker, if it has one (its state and trips for the admin side).
    const CircuitBreaker* breaker() const { return breaker_.get(); }
    const ResourceLimits* caps() const { return caps_.get(); }
    const ServerSlots* slots() const { return slots_.get(); }
    const session::Stickiness* sticky() const { return sticky_.get(); }

private:
    struct Server;
    void build_servers(const config::Pool& pool, std::vector<std::unique_ptr<Server>> keep);
    void start_checker(Server& s, bool recheck = false);
    // pool_roles.cpp: the probe a server's check runs, and the role rules at each publish.
    std::unique_ptr<Probe> make_probe(const Server& s, const asio::ip::tcp::endpoint& target) const;
    void judge(ProbeResult& r) const;
    // Records the role a check reported; true when that changes what apply_roles decides (the
    // server's first result in a role pool, or a new role).
    bool note_role(Server& s, const ProbeResult& r);
    void apply_roles(std::vector<HostView>& v);
    std::vector<std::uint8_t> shut_hosts(const std::vector<HostView>& v) const;
    void on_report(Server& s, const HealthReport& r);
    // Refused connects on live traffic (HostSignals::refusals): take the server out for every
    // worker and check it now; a passing check (or, in a pool without checks, a TCP connect
    // retried every second) brings it back. True if a server was newly taken out.
    bool take_refusals();
    void configure_breaker(const config::Pool& pool); // pool_guards.cpp, with the two below
    void configure_sticky(const config::Pool& pool);
    void tick_breaker(TimePoint now);
    void confirm_refusal(Server& s);
    void clear_refusal(Server& s, std::string_view why);
    bool end_connection_ejection(Server& s, TimePoint at, std::string_view why);
    HostIndex index_of(const Server& s) const;
    void republish(TimePoint now);
    std::vector<HostView> views(TimePoint now) const;
    Server* find(std::string_view name);

    ControlEnv& env_;
    config::Pool config_;
    HostSet base_; // static parts; eligible/tier filled at each publish
    std::vector<std::unique_ptr<Server>> servers_;
    OutlierDetector outliers_;
    std::shared_ptr<const HostSet> current_;
    bool started_ = false;
    bool ramping_ = false;
    std::int64_t tier_ = -2; // last published tier (-2: nothing published yet)
    ServingMode mode_ = ServingMode::None;
    bool ever_served_ = false;
    std::unique_ptr<CircuitBreaker> breaker_;
    std::shared_ptr<BreakerGate> gate_;
    std::shared_ptr<ResourceLimits> caps_;
    std::shared_ptr<ServerSlots> slots_;
    std::shared_ptr<session::Stickiness> sticky_;
    std::uint64_t failovers_ = 0;
    // Database roles: the last WAL position a server reported as primary (replicas' byte lag is
    // measured against it), servers claiming primary at the last publish (2+: a split brain),
    // split brains so far.
    std::optional<std::uint64_t> primary_lsn_;
    std::uint32_t primaries_ = 0;
    std::uint64_t split_brains_ = 0;
};

} // namespace haven::upstream
