#include "upstream/health/probe_check.hpp"

#include "net/tls/channel.hpp"
#include "net/tls/client_context.hpp"

namespace haven::upstream {

void close_socket(ProbeCheck& c) {
    asio::error_code ignored;
    c.socket.close(ignored);
}

std::string reason_for(const ProbeCheck& c, const asio::error_code& ec) {
    if (c.timed_out) return "timeout";
    if (ec == asio::error::eof) return "connection closed";
    if (ec == asio::error::connection_refused) return "connection refused";
    if (ec == asio::error::connection_reset) return "connection reset";
    return ec.message();
}

void deliver(std::function<void(ProbeResult)>& done, bool& finished, const Clock& clock, TimePoint started,
             ProbeResult r) {
    // An abandoned check must not read the clock either: it may be gone with the probe's owner.
    if (finished) return;
    finished = true;
    r.took = clock.now() - started;
    auto call = std::move(done);
    call(std::move(r));
}

void finish(ProbeCheck& c, ProbeResult r) {
    close_socket(c);
    c.watchdog.cancel();
    deliver(c.done, c.finished, *c.clock, c.started, std::move(r));
}

void arm_watchdog(const std::shared_ptr<ProbeCheck>& check, Duration timeout) {
    check->watchdog.expires_after(timeout);
    check->watchdog.async_wait([weak = std::weak_ptr<ProbeCheck>(check)](const asio::error_code& ec) {
        auto c = weak.lock();
        if (ec || !c || c->finished) return;
        c->timed_out = true;
        close_socket(*c);
    });
}

void abandon(const std::weak_ptr<ProbeCheck>& current) {
    auto c = current.lock();
    if (!c || c->finished) return;
    c->finished = true;
    c->done = nullptr;
    close_socket(*c);
    c->watchdog.cancel();
}

asio::awaitable<std::string> tls_handshake(ProbeCheck& c, const TlsTarget& tls, std::unique_ptr<net::tls::Channel>& out) {
    out = net::tls::client_channel(tls.context, c.socket.native_handle(), tls.host);
    if (!out) co_return "tls: out of memory";
    if (const auto ec = co_await out->handshake(c.socket); ec) {
        if (c.timed_out) co_return "timeout";
        const auto detail = out->verify_error();
        co_return std::string("tls handshake: ") + net::tls::handshake_name(out->outcome()) +
            (detail.empty() ? "" : " (" + detail + ")");
    }
    co_return "";
}

} // namespace haven::upstream
