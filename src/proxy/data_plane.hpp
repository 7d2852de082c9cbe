// DataPlane: haven's request path as one object — the worker threads with their event loops, the
// listening sockets (bound on the control thread, handed to the workers), the snapshot the
// workers route and balance with, the metric objects that outlive snapshots, and the access-log
// writer. It knows nothing of the admin side: src/runtime/ builds it, feeds it the pools' state
// and reloads, and shows what it counts.
//
// Everything here runs on the control thread, except what workers reach through their
// WorkerContext.
#pragma once

#include "config/schema.hpp"
#include "proxy/access_log.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/worker_context.hpp"
#include "upstream/host_set.hpp"

#include <asio/ip/tcp.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace haven::proxy {

// A listener's sockets, one per worker, bound on the control thread.
struct BoundListener {
    std::string name;
    config::Listener config;
    asio::ip::tcp::endpoint endpoint; // the real one (port resolved when the config says 0)
    std::vector<int> fds;             // handed to the workers, which own them from then on
};

class DataPlane {
public:
    using PoolSets = std::vector<std::shared_ptr<const upstream::HostSet>>;

    // Builds the workers and binds every listener; throws std::runtime_error naming what failed
    // ("listener web: cannot listen on 127.0.0.1:80 ...").
    // `policies`: where routes get their compiled policies (owned by the runtime).
    DataPlane(std::shared_ptr<const config::Config> config, PoolSets pools, policy::PolicyStore& policies);
    ~DataPlane();
    DataPlane(const DataPlane&) = delete;
    DataPlane& operator=(const DataPlane&) = delete;

    static unsigned thread_count(const config::Config& c) {
        return c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
    }

    // A pool's new state goes to every worker (on its own thread, as soon as it is free).
    void publish(std::shared_ptr<const upstream::HostSet> set);

    // Reload, in two steps. prepare: binds the listeners `next` adds or moves (nothing changes
    // for the workers yet); every problem is added to `errors`. Then commit (with the control
    // plane's snapshots of next's pools) or abort (closes what prepare bound).
    void prepare(const config::Config& next, std::vector<std::string>& errors);
    void commit(std::shared_ptr<const config::Config> next, PoolSets pools);
    void abort();

    // Starts the worker threads.
    void start();
    // Stops accepting; idle connections close now, busy ones after their response.
    void begin_drain();
    std::uint64_t open_connections() const;
    // Closes what is left and joins the worker threads.
    void stop();

    // What the admin side shows (src/runtime/ reads these).
    const config::Config& config() const { return *cfg_; }
    const MetricsStore& metrics() const { return metrics_; }
    std::vector<const WorkerContext*> workers() const;
    // The address each listener is bound to (port resolved when the config says 0), config order.
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> listening() const;
    bool started() const { return started_; }

private:
    struct Worker {
        std::unique_ptr<WorkerContext> ctx;
        std::thread thread;
    };

    BoundListener bind(const config::Listener& l);
    void hand_to_workers(const BoundListener& b);

    std::shared_ptr<const config::Config> cfg_;
    policy::PolicyStore& policies_;
    std::shared_ptr<const Snapshot> snapshot_;
    unsigned threads_;
    MetricsStore metrics_;
    WorkerShared shared_;
    std::unique_ptr<AccessLogWriter> access_log_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::map<std::string, std::uint32_t> slots_; // listener name -> slot, for the process's life
    std::map<std::string, BoundListener> bound_; // by listener name
    bool started_ = false;
    // Between prepare and commit/abort.
    std::vector<BoundListener> added_;
    std::vector<std::string> removed_;
};

} // namespace haven::proxy
