// The DNS thread (see server.hpp).
#include "dns/server.hpp"

#include "core/log_exception.hpp"
#include "net/address.hpp"
#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace haven::dns {
namespace {

constexpr int kBatch = 32;
// Batches handled before yielding to TCP work and control messages.
constexpr int kRoundsPerWake = 16;
// A query needs far less; anything longer arrives with MSG_TRUNC and is dropped.
constexpr std::size_t kMaxUdpQuery = 4096;
constexpr std::size_t kMaxUdpAnswer = 4096;
constexpr int kUdpReceiveBuffer = 4 << 20;
constexpr int kRetries = 20;

ClientAddress client_of(const sockaddr_storage& ss) {
    ClientAddress c;
    if (ss.ss_family == AF_INET6) {
        c.v6 = true;
        std::memcpy(c.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
    } else {
        std::memcpy(c.bytes.data(), &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, 4);
    }
    return c;
}

ClientAddress client_of(const asio::ip::tcp::endpoint& ep) {
    ClientAddress c;
    if (ep.address().is_v6()) {
        c.v6 = true;
        const auto b = ep.address().to_v6().to_bytes();
        std::memcpy(c.bytes.data(), b.data(), 16);
    } else {
        const auto b = ep.address().to_v4().to_bytes();
        std::memcpy(c.bytes.data(), b.data(), 4);
    }
    return c;
}

std::string errno_text(int e) { return std::strerror(e); }

bool same_rrl(const config::DnsRrl& a, const config::DnsRrl& b) {
    return a.responses_per_second == b.responses_per_second && a.slip == b.slip && a.ipv4_prefix == b.ipv4_prefix &&
           a.ipv6_prefix == b.ipv6_prefix && a.exempt == b.exempt && a.max_subnets == b.max_subnets;
}

std::size_t qtype_index(std::uint16_t t) {
    switch (t) {
    case rr::A: return 0;
    case rr::AAAA: return 1;
    case rr::CNAME: return 2;
    case rr::MX: return 3;
    case rr::NS: return 4;
    case rr::SOA: return 5;
    case rr::SRV: return 6;
    case rr::TXT: return 7;
    case rr::ANY: return 8;
    default: return 9;
    }
}

std::size_t rcode_index(Rcode r) {
    const auto v = static_cast<std::size_t>(r);
    return r == Rcode::BadVers ? 6 : std::min<std::size_t>(v, 5);
}

// One socket of `type` bound to `ep`; TCP ones listen. A negative result is -errno.
int bind_one(const asio::ip::tcp::endpoint& ep, int type) {
    const int fd = ::socket(ep.address().is_v6() ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    const int one = 1;
    if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (type == SOCK_DGRAM) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kUdpReceiveBuffer, sizeof kUdpReceiveBuffer);
    if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 || (type == SOCK_STREAM && ::listen(fd, 1024) != 0)) {
        const int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

} // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<BoundListener> bind_listener(const config::DnsListener& l, std::string& error) {
    const auto resolved = net::resolve(l.listen, error);
    if (!resolved) {
        error = "dns listener " + l.name + ": " + error;
        return std::nullopt;
    }
    for (int attempt = 0; attempt < (l.listen.port == 0 ? kRetries : 1); ++attempt) {
        auto ep = *resolved;
        const int udp = bind_one(ep, SOCK_DGRAM);
        if (udp < 0) {
            error = "dns listener " + l.name + ": cannot listen on " + l.listen.text + " (udp): " + errno_text(-udp);
            return std::nullopt;
        }
        Fd udp_fd(udp);
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(udp, reinterpret_cast<sockaddr*>(&ss), &len);
        ep.port(ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port));
        const int tcp = bind_one(ep, SOCK_STREAM);
        if (tcp == -EADDRINUSE && l.listen.port == 0) continue; // the kernel's UDP port is taken for TCP
        if (tcp < 0) {
            error = "dns listener " + l.name + ": cannot listen on " + net::endpoint_text(ep) + " (tcp): " + errno_text(-tcp);
            return std::nullopt;
        }
        return BoundListener{l.name, l.listen.text, net::endpoint_text(ep), ep.address().is_v6(), std::move(udp_fd), Fd(tcp)};
    }
    error = "dns listener " + l.name + ": found no port free for both UDP and TCP in " + std::to_string(kRetries) + " tries";
    return std::nullopt;
}

struct Server::Listener {
    Listener(asio::io_context& io, BoundListener b)
        : name(std::move(b.name)), udp(io, b.v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), b.udp.release()),
          tcp(io, b.v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), b.tcp.release()) {}
    std::string name;
    asio::ip::udp::socket udp;
    asio::ip::tcp::acceptor tcp;
    bool closed = false;
};

// Buffers for one batch of datagrams, reused for every batch.
struct Server::UdpBatch {
    std::array<mmsghdr, kBatch> in{};
    std::array<mmsghdr, kBatch> out{};
    std::array<iovec, kBatch> in_iov{};
    std::array<iovec, kBatch> out_iov{};
    std::array<sockaddr_storage, kBatch> peers{};
    std::array<std::array<std::uint8_t, kMaxUdpQuery>, kBatch> queries{};
    std::array<std::array<std::uint8_t, kMaxUdpAnswer>, kBatch> answers{};
};

Server::Server() : random_(FastRandom::from_entropy()), batch_(std::make_unique<UdpBatch>()) {}

Server::~Server() { stop(); }

void Server::publish(std::shared_ptr<const Snapshot> snapshot) { snapshot_.store(std::move(snapshot)); }

void Server::add(BoundListener listener) {
    auto l = std::make_shared<Listener>(io_, std::move(listener));
    asio::post(io_, [this, l] { open(l); });
}

void Server::remove(const std::string& name) {
    asio::post(io_, [this, name] {
        const auto it = listeners_.find(name);
        if (it == listeners_.end()) return;
        it->second->closed = true;
        asio::error_code ignored;
        it->second->udp.close(ignored);
        it->second->tcp.close(ignored);
        listeners_.erase(it);
    });
}

void Server::start() {
    if (running_) return;
    running_ = true;
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "haven-dns");
        auto guard = asio::make_work_guard(io_);
        try {
            io_.run();
        } catch (...) {
            log_exception(std::current_exception(), "dns thread");
        }
    });
}

void Server::stop() {
    if (!running_) return;
    running_ = false;
    io_.stop();
    if (thread_.joinable()) thread_.join();
    listeners_.clear();
}

void Server::open(std::shared_ptr<Listener> l) {
    if (auto it = listeners_.find(l->name); it != listeners_.end()) {
        it->second->closed = true;
        asio::error_code ignored;
        it->second->udp.close(ignored);
        it->second->tcp.close(ignored);
    }
    listeners_[l->name] = l;
    udp_wait(l);
    asio::co_spawn(io_, accept_loop(l), [](std::exception_ptr e) { log_exception(e, "dns tcp listener"); });
}

void Server::udp_wait(std::shared_ptr<Listener> l) {
    auto& socket = l->udp;
    socket.async_wait(asio::socket_base::wait_read, [this, l = std::move(l)](const asio::error_code& ec) {
        if (!ec && !l->closed) udp_drain(l);
    });
}

// Reads until a read finds nothing (the next wait then re-arms epoll), or yields after
// kRoundsPerWake batches so that TCP connections are served too under a UDP flood. A batch that
// was not full is followed by another read, not by a wait: under load the clients' next queries
// arrive while the answers are sent, and reading them at once costs one system call where going
// back to epoll costs two (epoll_ctl to re-arm, epoll_wait) plus the read.
void Server::udp_drain(const std::shared_ptr<Listener>& l) {
    for (int round = 0; round < kRoundsPerWake; ++round) {
        const int n = udp_batch(*l, snapshot_.load(std::memory_order_acquire).get());
        if (n <= 0) {
            udp_wait(l);
            return;
        }
    }
    asio::post(io_, [this, l] {
        if (!l->closed) udp_drain(l);
    });
}

// One recvmmsg, the answers, one sendmmsg. Returns the packets read (-1 on an error). Without
// a snapshot (never, once started) the packets are read and dropped.
int Server::udp_batch(Listener& l, const Snapshot* snapshot) {
    UdpBatch& b = *batch_;
    for (int i = 0; i < kBatch; ++i) {
        b.in_iov[i] = iovec{b.queries[i].data(), b.queries[i].size()};
        b.in[i].msg_hdr = msghdr{&b.peers[i], sizeof(sockaddr_storage), &b.in_iov[i], 1, nullptr, 0, 0};
    }
    const int fd = l.udp.native_handle();
    const int n = ::recvmmsg(fd, b.in.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return -1;
    if (!snapshot) {
        stats_.dropped.inc(static_cast<std::uint64_t>(n));
        return n;
    }
    refresh_rrl(*snapshot);
    const TimePoint now = SystemClock::instance().now();
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
        stats_.udp_queries.inc();
        const auto& hdr = b.in[i].msg_hdr;
        if (hdr.msg_flags & MSG_TRUNC) {
            stats_.dropped.inc();
            continue;
        }
        const ClientAddress client = client_of(b.peers[i]);
        const auto verdict = rrl_->check(client.v6, client.bytes.data(), now);
        const std::span<const std::uint8_t> query(b.queries[i].data(), b.in[i].msg_len);
        const std::span<std::uint8_t> answer(b.answers[i].data(), b.answers[i].size());
        std::size_t size = 0;
        if (verdict == RrlVerdict::Send) {
            Outcome o;
            size = responder_.answer(*snapshot, query, client, Transport::Udp, answer, o);
            count(o);
        } else if (verdict == RrlVerdict::Slip) {
            stats_.rrl_slipped.inc();
            size = responder_.truncated(*snapshot, query, answer);
        } else {
            stats_.rrl_dropped.inc();
        }
        if (size == 0) continue;
        b.out_iov[out] = iovec{b.answers[i].data(), size};
        b.out[out].msg_hdr = msghdr{&b.peers[i], hdr.msg_namelen, &b.out_iov[out], 1, nullptr, 0, 0};
        ++out;
    }
    for (unsigned sent = 0; sent < out;) {
        const int r = ::sendmmsg(fd, b.out.data() + sent, out - sent, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            stats_.send_errors.inc(out - sent);
            break;
        }
        sent += static_cast<unsigned>(r);
    }
    return n;
}

asio::awaitable<void> Server::accept_loop(std::shared_ptr<Listener> l) {
    asio::steady_timer pause(io_);
    while (!l->closed) {
        auto [ec, socket] = co_await l->tcp.async_accept(net::use_nothrow);
        if (l->closed || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            // Out of descriptors, say: wait rather than spin on the same error.
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(net::use_nothrow);
            continue;
        }
        const auto snapshot = snapshot_.load(std::memory_order_acquire);
        if (!snapshot || stats_.tcp_active.get() >= snapshot->data->options.max_tcp_connections) {
            stats_.tcp_rejected.inc();
            continue; // `socket` closes here
        }
        stats_.tcp_accepted.inc();
        asio::co_spawn(io_, serve_tcp(std::move(socket), snapshot->data->options.tcp_idle_timeout),
                       [](std::exception_ptr e) { log_exception(e, "dns tcp connection"); });
    }
}

// Queries in order on one connection until the client closes, a read fails, or it stays idle
// past `idle` (a watchdog closes the socket, which ends the pending read).
asio::awaitable<void> Server::serve_tcp(asio::ip::tcp::socket socket, std::chrono::milliseconds idle) {
    stats_.tcp_active.inc();
    asio::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    const ClientAddress client = client_of(peer);
    asio::steady_timer watchdog(io_);
    std::vector<std::uint8_t> query;
    std::vector<std::uint8_t> answer(2 + 65535);
    for (;;) {
        // One query's read, answer and write must finish within `idle` of the previous one.
        watchdog.expires_after(idle);
        watchdog.async_wait([&socket](const asio::error_code& ec) {
            asio::error_code e;
            if (!ec) socket.close(e);
        });
        std::array<std::uint8_t, 2> prefix{};
        auto [ec, n] = co_await asio::async_read(socket, asio::buffer(prefix), net::use_nothrow);
        const std::size_t len = (prefix[0] << 8) | prefix[1];
        if (ec || len == 0) break;
        query.resize(len);
        std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(query), net::use_nothrow);
        if (ec) break;
        stats_.tcp_queries.inc();
        const auto snapshot = snapshot_.load(std::memory_order_acquire);
        if (!snapshot) break;
        Outcome o;
        const std::size_t size =
            responder_.answer(*snapshot, query, client, Transport::Tcp, std::span(answer).subspan(2), o);
        count(o);
        if (size == 0) continue;
        answer[0] = static_cast<std::uint8_t>(size >> 8);
        answer[1] = static_cast<std::uint8_t>(size);
        std::tie(ec, n) = co_await asio::async_write(socket, asio::buffer(answer.data(), size + 2), net::use_nothrow);
        if (ec) break;
    }
    watchdog.cancel();
    stats_.tcp_active.dec();
}

void Server::count(const Outcome& o) {
    if (!o.responded) {
        stats_.dropped.inc();
        return;
    }
    stats_.rcodes[rcode_index(o.rcode)].inc();
    stats_.qtypes[qtype_index(o.qtype)].inc();
    if (o.nodata) stats_.nodata.inc();
    if (o.truncated) stats_.truncated.inc();
}

void Server::refresh_rrl(const Snapshot& snapshot) {
    const auto& params = snapshot.data->options.rrl;
    if (rrl_ && same_rrl(params, rrl_params_)) return;
    rrl_ = std::make_unique<RateLimiter>(params);
    rrl_params_ = params;
}

} // namespace haven::dns
