// Doorbell: lets another thread wake an event loop that runs without any locking.
//
// A worker's io_context runs with ASIO_CONCURRENCY_HINT_UNSAFE, so nothing may be posted to it
// from another thread. The doorbell is an eventfd the loop watches like a socket: ring() (any
// thread) writes to it, a plain syscall that touches no Asio state, and the loop runs the
// handler on its own thread. Used only for control-plane hand-offs (a server's new state, a
// reload), never on the request path.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <functional>

namespace haven::net {

class Doorbell {
public:
    explicit Doorbell(asio::io_context& io);
    ~Doorbell();
    Doorbell(const Doorbell&) = delete;
    Doorbell& operator=(const Doorbell&) = delete;

    // Starts watching (call before the loop runs, or on its thread): on_ring runs on the loop's
    // thread once per wake-up, however many rings came since the last one.
    void start(std::function<void()> on_ring);
    // Any thread. Cheap enough for rare events (one write()).
    void ring();

private:
    void arm();

    int fd_;
    asio::posix::stream_descriptor watch_;
    std::function<void()> on_ring_;
};

} // namespace haven::net
