// Session: what a worker knows about each client connection, for shutdown and for admitting new
// clients at max_connections (the longest-idle keep-alive connection makes room).
#pragma once

#include "core/clock.hpp"

namespace haven::upstream {
class PoolRuntime;
}

namespace haven::proxy {

class Session {
public:
    virtual ~Session() = default;
    // True while waiting for a request head (none of it, or part of it, received): such a
    // connection may be closed to make room without losing a request in progress.
    virtual bool idle() const = 0;
    // When the session last became idle.
    virtual TimePoint idle_since() const = 0;
    // Close now (only called while idle).
    virtual void close_idle() = 0;
    // Shutdown has begun: close when idle, or after the response in progress.
    virtual void on_drain() = 0;
    // The drain timeout passed: abort whatever is in progress (the session then ends by itself).
    virtual void force_close() = 0;
    // `pool` has a new snapshot with servers whose connections must end (HostSet::shut): a
    // session relaying to one of them closes (tcp; an HTTP request ends on its own).
    virtual void on_servers_shut(const upstream::PoolRuntime& pool) {}

    std::uint32_t slot = 0; // the listener it came in on (see Snapshot)
    Session* prev = nullptr;
    Session* next = nullptr;
};

} // namespace haven::proxy
