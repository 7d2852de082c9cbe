// The TCP probe: a server is healthy when it completes the handshake within the timeout. The
// connection is closed at once; nothing is sent.
#include "upstream/health/probe.hpp"
#include "upstream/health/probe_check.hpp"

#include "net/io.hpp"
#include "net/tls/channel.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>

#include <utility>

namespace haven::upstream {
namespace {

using asio::ip::tcp;

using TcpCheck = ProbeCheck;

asio::awaitable<void> connect_once(std::shared_ptr<TcpCheck> c, tcp::endpoint target, TlsTarget tls) {
    // The coroutine starts a queue turn after start(): the probe may have been dropped or timed
    // out meanwhile, and async_connect would reopen the socket that was closed to stop it.
    if (c->finished) co_return;
    if (c->timed_out) {
        finish(*c, ProbeResult{false, "timeout"});
        co_return;
    }
    auto [ec] = co_await c->socket.async_connect(target, net::use_nothrow);
    if (ec) {
        finish(*c, ProbeResult{false, reason_for(*c, ec)});
        co_return;
    }
    if (tls.context) {
        std::unique_ptr<net::tls::Channel> channel;
        if (auto why = co_await tls_handshake(*c, tls, channel); !why.empty()) {
            finish(*c, ProbeResult{false, why});
            co_return;
        }
    }
    finish(*c, ProbeResult{true, "ok"});
}

class TcpProbe final : public Probe {
public:
    TcpProbe(asio::io_context& io, tcp::endpoint target, Duration timeout, const Clock& clock, TlsTarget tls)
        : io_(io), target_(target), timeout_(timeout), clock_(clock), tls_(std::move(tls)) {}
    ~TcpProbe() override { abandon(current_); }

    void start(std::function<void(ProbeResult)> done) override {
        abandon(current_);
        auto check = std::make_shared<TcpCheck>(io_, std::move(done), clock_);
        current_ = check;
        arm_watchdog(check, timeout_);
        // Owner: the shared TcpCheck; cancellation path: abandon() closes the socket, which ends
        // the coroutine at its next resumption.
        asio::co_spawn(io_, connect_once(std::move(check), target_, tls_), asio::detached);
    }

private:
    asio::io_context& io_;
    tcp::endpoint target_;
    Duration timeout_;
    const Clock& clock_;
    TlsTarget tls_;
    std::weak_ptr<ProbeCheck> current_;
};

} // namespace

std::unique_ptr<Probe> make_tcp_probe(asio::io_context& io, asio::ip::tcp::endpoint target, Duration timeout,
                                      const Clock& clock, TlsTarget tls) {
    return std::make_unique<TcpProbe>(io, target, timeout, clock, std::move(tls));
}

} // namespace haven::upstream
