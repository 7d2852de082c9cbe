// PolicyStore: every route's compiled policies (route_policies.hpp), on the control thread. A
// snapshot asks it for each route's object while being built; a route whose policy did not change
// gets the same object back, with its limit counters and breaker state. Every 100 ms tick()
// drives the routes' circuit breakers and ends faults whose time is up; the admin API switches
// faults on and off through it.
#pragma once

#include "config/schema.hpp"
#include "core/event_log.hpp"
#include "core/random.hpp"
#include "policy/episode.hpp"
#include "policy/route_policies.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace haven::policy {

// A fault switched on at run time (admin API, `haven ctl fault`).
struct FaultSpec {
    double abort_percent = 0; // 0..1
    std::uint32_t abort_status = 503;
    double delay_percent = 0; // 0..1
    Duration delay{0};
};

class PolicyStore {
public:
    // `limits_shared`: shared_state is configured, so rate limits with `shared: true` (the
    // default) count for take_unsynced() (shared/limit_sharing.hpp).
    explicit PolicyStore(std::size_t workers, bool limits_shared = false)
        : workers_(workers), limits_shared_(limits_shared) {}

    // Route `position` of listener `l` (the listener's `policies` are its defaults). Marks it in
    // use for the next sweep().
    std::shared_ptr<RoutePolicies> route(const config::Listener& l, std::size_t position,
                                         const config::Policies& route_policies);
    // After a snapshot was built: forgets the routes it did not ask for.
    void sweep();

    // Every 100 ms on the control thread.
    void tick(TimePoint now, Random& random, EventLog& events);

    // Admin: switches a fault on for `duration` (then it ends by itself) on one route, or every
    // route of the listener when `route` is empty. False with `error` when nothing matches.
    bool set_fault(const std::string& listener, const std::string& route, const FaultSpec& f, Duration duration,
                   TimePoint now, EventLog& events, std::string& error);
    // Back to the configured fault (or none).
    bool clear_fault(const std::string& listener, const std::string& route, EventLog& events, std::string& error);

    struct Entry {
        config::Policies listener;                        // the listener's defaults, as built
        config::Policies own;                             // the route's own, as built
        std::shared_ptr<RoutePolicies> policies;
        std::unique_ptr<upstream::CircuitBreaker> breaker; // null: none
        bool used = false;
        TimePoint fault_until{};                           // a runtime fault's end; epoch: none
        FaultSpec runtime_fault;
        // Episodes of the route's policies acting (events rate_limiting, shedding, degraded and
        // their *_end): tick() feeds them the counters.
        Episode limiting, shedding, degraded;
    };
    // By "listener/position".
    const std::map<std::string, Entry>& routes() const { return routes_; }

private:
    std::shared_ptr<RoutePolicies> build(const config::Listener& l, std::size_t position, const config::Policies& own);
    void apply_configured_fault(Entry& e);
    void episodes(const std::string& key, Entry& e, TimePoint now, EventLog& events);
    std::vector<Entry*> matching(const std::string& listener, const std::string& route);

    std::size_t workers_;
    bool limits_shared_;
    std::map<std::string, Entry> routes_;
};

// The policy of one kind a route runs with: its own, else the listener's default.
template <typename T>
const T* effective(const std::optional<T>& own, const std::optional<T>& listener) {
    return own ? &*own : (listener ? &*listener : nullptr);
}

} // namespace haven::policy
