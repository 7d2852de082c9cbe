// Supervisor: every service of the configuration (a ServiceRunner each); a reload adds, updates
// and removes services; shutdown stops every process and waits for it, so that haven never
// leaves a child behind.
#pragma once

#include "supervisor/service_runner.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace haven::supervisor {

class Supervisor {
public:
    explicit Supervisor(ReplicaEnv env);
    // What still runs is killed (SIGKILL to each process group).
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // The services to run: before start(), and again at every reload. A service matched by name
    // is updated (ServiceRunner::update), a new one starts, a removed one is stopped (drained).
    void configure(const config::Supervisor& config);
    void start();
    // SIGTERM to every process, then wait (blocking) up to the longest stop_grace, then SIGKILL.
    void shutdown();
    // After a reload: every replica tells the pools again whether it takes traffic.
    void reapply_serving();

    // A rolling restart of one service; false with `error` (no such service, or one in progress).
    bool restart(std::string_view service, std::string& error, bool& not_found);

    std::vector<ServiceStatus> status() const;
    // Every replica is past its start (ready, or known not to be): haven's start-up waits for
    // this, at most warm_up_limit().
    bool settled() const;
    Duration warm_up_limit() const;
    bool empty() const { return services_.empty(); }

private:
    ReplicaEnv env_;
    std::vector<std::unique_ptr<ServiceRunner>> services_;
    std::vector<std::unique_ptr<ServiceRunner>> removing_;
    bool started_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace haven::supervisor
