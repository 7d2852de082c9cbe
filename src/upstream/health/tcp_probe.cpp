// The TCP probe: a server is healthy when it completes the handshake within the timeout. The
// connection is closed at once; nothing is sent.
#include "upstream/health/probe.hpp"

#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>

#include <utility>

namespace haven::upstream {
namespace {

using asio::ip::tcp;

// One check in flight. Shared between the probe and the coroutine, so that destroying the probe
// leaves the coroutine something valid to finish on.
struct TcpCheck {
    TcpCheck(asio::io_context& io, std::function<void(ProbeResult)> d, const Clock& c)
        : socket(io), watchdog(io), done(std::move(d)), clock(&c), started(c.now()) {}
    tcp::socket socket;
    asio::steady_timer watchdog;
    std::function<void(ProbeResult)> done;
    const Clock* clock;
    TimePoint started;
    bool timed_out = false;
    bool finished = false; // done was called, or the probe gave the check up
};

void close_socket(TcpCheck& c) {
    asio::error_code ignored;
    c.socket.close(ignored);
}

std::string reason_for(const TcpCheck& c, const asio::error_code& ec) {
    // The watchdog closes the socket, so the pending operation fails as "aborted": that is the
    // timeout, whatever the error says.
    if (c.timed_out) return "timeout";
    if (ec == asio::error::connection_refused) return "connection refused";
    if (ec == asio::error::connection_reset) return "connection reset";
    return ec.message();
}

void finish(TcpCheck& c, ProbeResult r) {
    close_socket(c);
    c.watchdog.cancel();
    // An abandoned check must not read the clock either: it may be gone with the probe's owner.
    if (c.finished) return;
    c.finished = true;
    r.took = c.clock->now() - c.started;
    auto done = std::move(c.done);
    done(std::move(r));
}

asio::awaitable<void> connect_once(std::shared_ptr<TcpCheck> c, tcp::endpoint target) {
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
    finish(*c, ProbeResult{true, "ok"});
}

class TcpProbe final : public Probe {
public:
    TcpProbe(asio::io_context& io, tcp::endpoint target, Duration timeout, const Clock& clock)
        : io_(io), target_(target), timeout_(timeout), clock_(clock) {}
    ~TcpProbe() override { abandon(); }

    void start(std::function<void(ProbeResult)> done) override {
        abandon();
        auto check = std::make_shared<TcpCheck>(io_, std::move(done), clock_);
        current_ = check;
        check->watchdog.expires_after(timeout_);
        // Weak: the watchdog must not keep a finished check (and its socket) alive until it fires.
        check->watchdog.async_wait([weak = std::weak_ptr<TcpCheck>(check)](const asio::error_code& ec) {
            auto c = weak.lock();
            if (ec || !c || c->finished) return;
            c->timed_out = true;
            close_socket(*c);
        });
        // Owner: the shared TcpCheck; cancellation path: abandon() closes the socket, which ends
        // the coroutine at its next resumption.
        asio::co_spawn(io_, connect_once(std::move(check), target_), asio::detached);
    }

private:
    void abandon() {
        auto c = current_.lock();
        if (!c || c->finished) return;
        c->finished = true;
        c->done = nullptr;
        close_socket(*c);
        c->watchdog.cancel();
    }

    asio::io_context& io_;
    tcp::endpoint target_;
    Duration timeout_;
    const Clock& clock_;
    std::weak_ptr<TcpCheck> current_;
};

} // namespace

std::unique_ptr<Probe> make_tcp_probe(asio::io_context& io, asio::ip::tcp::endpoint target, Duration timeout,
                                      const Clock& clock) {
    return std::make_unique<TcpProbe>(io, target, timeout, clock);
}

} // namespace haven::upstream
