// Server: the DNS thread. It owns its own event loop (asio), its UDP sockets and TCP listeners,
// its TCP connections, its response-rate limiter and its Responder, so that answering never
// touches the proxy's workers or the control thread: the control thread only publishes new
// snapshots (an atomic shared_ptr the DNS thread reads once per batch of packets) and hands over
// bound sockets. UDP is read and answered in batches (recvmmsg / sendmmsg, up to 32 packets per
// system call, read again until a read finds nothing); TCP connections (RFC 7766: several
// queries per connection, answered in order) close after tcp_idle_timeout without a query, and
// beyond max_tcp_connections new ones are closed at once.
#pragma once

#include "dns/answer.hpp"
#include "dns/rrl.hpp"
#include "dns/stats.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace haven::dns {

// A file descriptor that closes itself.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept;
    ~Fd();
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
};

// A listener's sockets, bound (and the TCP one listening) on the control thread, so that a
// reload that cannot bind is refused before anything changes.
struct BoundListener {
    std::string name;
    std::string configured; // the listen: text, to tell whether a reload moved it
    std::string address;    // the bound address, port resolved ("127.0.0.1:5353")
    bool v6 = false;
    Fd udp;
    Fd tcp;
};

// Binds UDP and TCP to the same address and port; with port 0 the kernel picks a port for UDP
// and TCP takes the same (tried again with another if TCP finds it taken). nullopt with `error`.
std::optional<BoundListener> bind_listener(const config::DnsListener& listener, std::string& error);

class Server {
public:
    Server();
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // From the control thread.
    void publish(std::shared_ptr<const Snapshot> snapshot);
    void add(BoundListener listener);
    void remove(const std::string& name);
    void start();
    void stop();

    const DnsStats& stats() const { return stats_; }

private:
    struct Listener;
    struct UdpBatch;
    void open(std::shared_ptr<Listener> l);
    void udp_wait(std::shared_ptr<Listener> l);
    void udp_drain(const std::shared_ptr<Listener>& l);
    int udp_batch(Listener& l, const Snapshot* snapshot);
    asio::awaitable<void> accept_loop(std::shared_ptr<Listener> l);
    asio::awaitable<void> serve_tcp(asio::ip::tcp::socket socket, std::chrono::milliseconds idle);
    void count(const Outcome& o);
    void refresh_rrl(const Snapshot& snapshot);

    asio::io_context io_{1};
    std::thread thread_;
    std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
    DnsStats stats_;
    // Owned by the DNS thread once started.
    std::map<std::string, std::shared_ptr<Listener>> listeners_;
    FastRandom random_;
    Responder responder_{random_};
    std::unique_ptr<RateLimiter> rrl_;
    config::DnsRrl rrl_params_;
    std::unique_ptr<UdpBatch> batch_;
    bool running_ = false;
};

} // namespace haven::dns
