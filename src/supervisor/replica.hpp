// Replica: one process of a service and everything haven does for it — start it, watch it exit
// and start it again (RestartTracker: backoff, crash loop), run its probes (ProbeRunner: liveness
// failing → restart; readiness → traffic on and off through the TrafficGate), and stop it the
// gentle way: out of rotation, wait for the requests in flight (drain_timeout), SIGTERM, wait
// stop_grace, SIGKILL.
//
//   Stopped ──start──> Starting ──ready──> Ready <──ready── NotReady
//      ^                  │  └──not ready──────────────────────^  │
//      │                exits                                     │
//      │                  v                                       │
//      └──restart: no── (exit) ──> Backoff ──delay──> Starting    │
//   stop/replace: Draining ──in flight 0──> Stopping ──exit──> Stopped (or Starting: replace)
//
// Every decision is an event (replica_started, replica_ready, replica_not_ready, replica_exited,
// replica_crashloop, replica_recovered, replica_liveness_failed, replica_killed,
// replica_stopped, replica_start_failed) with the service as its "pool" and the replica as its
// "server".
#pragma once

#include "supervisor/probe_runner.hpp"
#include "supervisor/replica_env.hpp"
#include "supervisor/restart_tracker.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::supervisor {

enum class ReplicaState { Stopped, Starting, Ready, NotReady, Draining, Stopping, Backoff };

// "ready", "not_ready", ...; "crashloop" for a replica in a crash loop that is not ready.
const char* replica_state_name(ReplicaState s, bool crashloop);

struct ReplicaStatus {
    std::string name;
    std::uint16_t port = 0; // 0: none
    pid_t pid = 0;          // 0: not running
    ReplicaState state = ReplicaState::Stopped;
    bool crashloop = false;
    std::uint64_t starts = 0;
    std::uint64_t restarts = 0;       // starts after the first
    std::uint64_t crashloops = 0;     // times it entered CRASHLOOP
    std::uint64_t liveness_kills = 0; // restarts a failing liveness probe caused
    std::uint64_t lines_dropped = 0;
    std::optional<ExitStatus> last_exit;
    double uptime_s = 0;
    double next_start_in_s = 0; // in Backoff
    std::optional<ProbeStatus> liveness;
    std::optional<ProbeStatus> readiness;
};

// Without a readiness probe, a replica with a port is ready once the port accepts connections
// (a tcp probe every second); one without a port is ready once started.
std::optional<config::ServiceProbe> effective_readiness(const config::Service& s);

// The environment a replica (or its exec probe) runs with: `base`, then HAVEN_SERVICE,
// HAVEN_REPLICA and HAVEN_PORT, then the service's env (templated), later names winning.
std::vector<std::string> replica_environment(const std::vector<std::string>& base, const config::Service& s,
                                             const config::ReplicaVars& vars);

class Replica {
public:
    using Done = std::function<void()>;
    using ReadyDone = std::function<void(bool ok, const std::string& why)>;

    Replica(ReplicaEnv& env, std::shared_ptr<const config::Service> spec, std::uint32_t index);
    // A process still running is killed (SIGKILL to its group); nothing is called back.
    ~Replica();
    Replica(const Replica&) = delete;
    Replica& operator=(const Replica&) = delete;

    // Starts the process now unless it runs; a pending restart is cancelled.
    void start();
    // Drains and stops it, never to restart on its own; `done` once it is gone (at once if it
    // is not running). `done` may destroy the replica.
    void stop(Done done);
    // Stops it (drained) and starts it with `spec`; `done(true)` once the new process is ready,
    // `done(false, why)` if it exits or is not ready within ready_timeout.
    void replace(std::shared_ptr<const config::Service> spec, ReadyDone done);
    // Shutdown: SIGTERM now (the proxy has drained already), nothing restarts ...
    void terminate();
    // ... and wait, blocking, until it is gone; SIGKILL at `deadline`.
    void wait_gone(TimePoint deadline);
    // Tells the gate again whether this replica takes traffic (after a reload changed the pools).
    void reapply_serving();

    const std::string& name() const { return name_; }
    const config::Service& spec() const { return *spec_; }
    std::shared_ptr<const config::Service> spec_ptr() const { return spec_; }
    ReplicaState state() const { return state_; }
    // Past its start: ready, not ready after its probes said so or ready_timeout, or not running.
    bool settled() const;
    ReplicaStatus status() const;

private:
    struct ProbeTotals {
        std::uint64_t checks = 0, failures = 0; // of the runners already gone
    };
    void launch();
    void on_exit(ExitStatus st);
    void after_exit(const std::string& what, bool failure);
    void on_readiness(const ProbeOutcome& o);
    void on_liveness(const ProbeOutcome& o);
    void became_ready(const std::string& why);
    void start_probes();
    void drop_probes();
    static ProbeStatus probe_status(const ProbeRunner* runner, const ProbeStatus& last, const ProbeTotals& total);
    void request_stop();
    void poll_drain();
    void send_term();
    void serving(bool on, std::string_view why);
    void settle_waiter(bool ok, const std::string& why);
    SpawnSpec spawn_spec() const;
    RestartParams restart_params() const;
    void event(const char* kind, std::string detail);

    ReplicaEnv& env_;
    std::shared_ptr<const config::Service> spec_;
    std::shared_ptr<const config::Service> replacement_; // started once the current one stopped
    std::uint32_t index_;
    std::string name_;
    ReplicaState state_ = ReplicaState::Stopped;
    std::unique_ptr<Process> process_;
    std::unique_ptr<ProbeRunner> liveness_;
    std::unique_ptr<ProbeRunner> readiness_;
    ProbeStatus last_liveness_, last_readiness_; // kept while not running
    ProbeTotals liveness_total_, readiness_total_;
    RestartTracker tracker_;
    std::unique_ptr<Timer> restart_timer_, drain_timer_, kill_timer_, healthy_timer_, ready_timer_;
    std::vector<Done> stop_waiters_;
    ReadyDone ready_waiter_;
    bool stopping_ = false;            // the current process is being stopped on purpose
    bool killed_for_liveness_ = false; // ... or because its liveness probe failed
    bool serving_ = false;             // the gate lets traffic in
    bool start_timed_out_ = false;
    TimePoint started_at_{}, drain_since_{}, next_start_at_{};
    std::uint64_t starts_ = 0, crashloops_ = 0, liveness_kills_ = 0, lines_dropped_ = 0;
    std::optional<ExitStatus> last_exit_;
};

} // namespace haven::supervisor
