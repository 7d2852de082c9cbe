// What replicas need from the rest of haven, shared by every replica: the control thread's
// Scheduler, a Launcher, the event history, the TrafficGate (how a replica's readiness reaches
// the pools that take their servers from its service; src/runtime/ implements it over the
// control plane) and a way to make probes (tests substitute fakes for both).
#pragma once

#include "config/schema.hpp"
#include "core/event_log.hpp"
#include "core/scheduler.hpp"
#include "supervisor/process.hpp"
#include "upstream/health/probe.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace haven::supervisor {

class TrafficGate {
public:
    virtual ~TrafficGate() = default;
    // Lets the replica's server take new requests (true) or not (false) in every pool that takes
    // its servers from `service`. Requests in flight are never cut.
    virtual void set_serving(const std::string& service, const std::string& replica, bool serving,
                             std::string_view why) = 0;
    // Requests in flight to the replica, in all those pools (0 when it is in none).
    virtual std::uint64_t in_flight(const std::string& service, const std::string& replica) = 0;
};

// Makes the probe a ProbeRunner runs for one replica (http and tcp: at vars.host and the probe's
// port or vars.port; exec: the command, templated with vars).
using ProbeFactory = std::function<std::unique_ptr<upstream::Probe>(
    const config::Service& service, const config::ServiceProbe& probe, const config::ReplicaVars& vars)>;

struct ReplicaEnv {
    Scheduler& scheduler;
    Launcher& launcher;
    EventLog& events;
    TrafficGate& gate;
    ProbeFactory make_probe;
    // The environment every replica starts from (haven's, without systemd's NOTIFY_SOCKET and
    // WATCHDOG_*, which are for haven alone); a service's env is added to it.
    std::vector<std::string> base_env;
};

} // namespace haven::supervisor
