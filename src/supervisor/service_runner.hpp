// ServiceRunner: the replicas of one service, and the rolling restart — replicas replaced one at
// a time (drain, stop, start, wait until ready, next), so a pool that takes its servers from the
// service always has the others serving. A reload that changes the number of replicas starts
// the new ones (or stops the highest-numbered ones) at once; any other change to the service
// replaces its replicas by a rolling restart. A rolling restart that meets a replica that does
// not get ready (it exits, or ready_timeout passes) halts there: the rest keep the old version.
#pragma once

#include "supervisor/replica.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::supervisor {

struct ServiceStatus {
    std::string name;
    std::uint32_t replicas = 0;
    std::size_t ready = 0;
    bool rolling = false;        // a rolling restart is in progress ...
    std::size_t rolling_at = 0;  // ... at this replica (0-based)
    std::uint64_t rolling_restarts = 0;
    std::string restart;         // always, on-failure, never
    std::vector<ReplicaStatus> replica_status;
};

class ServiceRunner {
public:
    ServiceRunner(ReplicaEnv& env, std::shared_ptr<const config::Service> spec);
    ~ServiceRunner();
    ServiceRunner(const ServiceRunner&) = delete;
    ServiceRunner& operator=(const ServiceRunner&) = delete;

    void start();
    // A reload: the service's new definition.
    void update(std::shared_ptr<const config::Service> spec);
    // Replaces every replica, one at a time. False (with `error`) when one is in progress.
    bool rolling_restart(const std::string& why, std::string& error);
    // Stops every replica (the service was removed); `done` once all are gone.
    void stop(std::function<void()> done);
    // Shutdown: SIGTERM to every replica, then wait (blocking) up to `deadline`.
    void terminate();
    void wait_gone(TimePoint deadline);
    void reapply_serving();

    const config::Service& spec() const { return *spec_; }
    bool settled() const;
    ServiceStatus status() const;

private:
    void begin_roll(bool force, const std::string& why);
    void roll_next();
    bool needs_replace(std::size_t i) const;
    void retire(std::unique_ptr<Replica> r);
    void event(const char* kind, std::string detail);

    struct Roll {
        std::size_t next = 0;
        bool force = false; // replace every replica, not only those whose definition changed
    };

    ReplicaEnv& env_;
    std::shared_ptr<const config::Service> spec_;
    std::vector<std::unique_ptr<Replica>> replicas_;
    std::vector<std::unique_ptr<Replica>> retiring_; // being stopped after a scale-down
    std::optional<Roll> roll_;
    std::uint64_t rolls_ = 0;
    bool started_ = false;
    // Work posted to the scheduler checks it: the runner may be gone by then.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace haven::supervisor
