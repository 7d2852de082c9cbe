// What the TCP and HTTP probes share: one check in flight — its socket, a watchdog that closes
// the socket at the timeout, and the rule that `done` runs at most once, never after the probe
// gave the check up. Shared (shared_ptr) between the probe and the check's coroutine, so that
// destroying the probe leaves the coroutine something valid to finish on. Internal to health/.
#pragma once

#include "upstream/health/probe.hpp"

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>

namespace haven::net::tls {
class Channel;
}

namespace haven::upstream {

struct ProbeCheck {
    ProbeCheck(asio::io_context& io, std::function<void(ProbeResult)> d, const Clock& c)
        : socket(io), watchdog(io), done(std::move(d)), clock(&c), started(c.now()) {}
    asio::ip::tcp::socket socket;
    asio::steady_timer watchdog;
    std::function<void(ProbeResult)> done;
    const Clock* clock;
    TimePoint started;
    bool timed_out = false;
    bool finished = false; // done was called, or the probe gave the check up
};

// What every probe's check does last: reports `r` with the time taken, unless the check already
// reported or was given up (`finished`); `done` runs at most once.
void deliver(std::function<void(ProbeResult)>& done, bool& finished, const Clock& clock, TimePoint started,
             ProbeResult r);

void close_socket(ProbeCheck& c);
// "timeout" when the watchdog fired (it closes the socket, so the pending operation fails as
// aborted whatever the error says), else "connection refused", "connection reset", ...
std::string reason_for(const ProbeCheck& c, const asio::error_code& ec);
// Closes the socket and reports `r` (with the time taken), unless the check was given up.
void finish(ProbeCheck& c, ProbeResult r);
// Starts the watchdog: after `timeout` it marks the check timed out and closes its socket.
// Weak, so that it does not keep a finished check (and its socket) alive until it fires.
void arm_watchdog(const std::shared_ptr<ProbeCheck>& c, Duration timeout);
// Gives up the check in flight (a new start, or the probe's destruction): `done` never runs.
void abandon(const std::weak_ptr<ProbeCheck>& current);
// The TLS handshake on the check's connected socket; `out` gets the channel. "" when done, else
// why it failed ("timeout", or "tls handshake: certificate (certificate has expired)").
asio::awaitable<std::string> tls_handshake(ProbeCheck& c, const TlsTarget& tls, std::unique_ptr<net::tls::Channel>& out);

} // namespace haven::upstream
