// One active health check of one server: connect (tcp), or connect + request + response (http).
// Probes run on the control thread's io_context, never on a worker.
#pragma once

#include "core/clock.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace haven::net::tls {
class ClientContext;
}

namespace haven::upstream {

// What a database server said it is (the postgres check; Unknown for other checks or when the
// check could not ask).
enum class DbRole : std::uint8_t { Unknown, Primary, Replica };

struct ProbeResult {
    bool ok = false;
    // Why it failed (or "ok"): "timeout", "connection refused", "connection reset",
    // "status 503", "body mismatch", "malformed response", ...
    std::string reason;
    Duration took{};
    int status = 0; // HTTP status when one was received
    // The postgres check's answer: the role, and the WAL position (a primary's current LSN, a
    // replica's replay LSN, as bytes from 0/0) and replay lag in seconds (0 on a primary).
    DbRole role = DbRole::Unknown;
    std::uint64_t lsn = 0;
    double lag_seconds = 0;
    // The result is evidence enough on its own (a server's own answer about its role): it sets
    // the status at once instead of counting towards rise/fall (role.hpp).
    bool definitive = false;
};

// What the postgres check logs in with (config::PostgresCheck, resolved for one server).
struct PgProbeSpec {
    std::string user = "postgres";
    std::string database = "postgres";
    std::string password; // "" : none
    std::string sslmode = "prefer";
};

// A range of accepted status codes, inclusive: "200" -> {200,200}; "200-399" -> {200,399}.
struct StatusRange {
    int lo = 200;
    int hi = 200;
};

// A pool's `tls:` for its checks (context null: plain TCP): the check completes a TLS handshake
// and verifies the server as requests do.
struct TlsTarget {
    std::shared_ptr<const net::tls::ClientContext> context;
    std::string host; // the server address's host (SNI and the verified name)
};

struct HttpProbeSpec {
    std::string method = "GET";
    std::string path = "/health";
    std::string host;                       // Host header; empty: the server's address
    std::vector<StatusRange> expect_status = {{200, 399}};
    std::string expect_body;                // substring the body must contain; empty: any
    TlsTarget tls;
};

class Probe {
public:
    virtual ~Probe() = default;
    // Starts one check; `done` is called exactly once, on the io_context's thread, unless the probe
    // is destroyed first (then never). At most one check runs at a time per Probe: starting another
    // abandons the one in flight (its `done` is then never called), so a HealthChecker restarted
    // while an old check is still out never has two connections open to the same server.
    virtual void start(std::function<void(ProbeResult)> done) = 0;
};

// Connect only (and the TLS handshake when `tls` has a context). `timeout` bounds the whole check. `clock` measures ProbeResult::took (it must
// outlive the probe); production passes the control thread's Scheduler or the default.
std::unique_ptr<Probe> make_tcp_probe(asio::io_context& io, asio::ip::tcp::endpoint target, Duration timeout,
                                      const Clock& clock = SystemClock::instance(), TlsTarget tls = {});
// Connect, send the request (Connection: close), read the response (head and, if expect_body is
// set, up to 64 KiB of body) and judge it.
std::unique_ptr<Probe> make_http_probe(asio::io_context& io, asio::ip::tcp::endpoint target, HttpProbeSpec spec,
                                       Duration timeout, const Clock& clock = SystemClock::instance());

// Logs in with libpq (its non-blocking API, on `io`) and asks the server its role and replay
// lag (pg_probe.cpp). ok when it answered; role.hpp judges the answer against the pool's role.
std::unique_ptr<Probe> make_pg_probe(asio::io_context& io, asio::ip::tcp::endpoint target, PgProbeSpec spec,
                                     Duration timeout, const Clock& clock = SystemClock::instance());
// Runs `first` and, if it passes, `second`; the result is the first failure or `second`'s
// (a connect to the service's own port before a check on another port, probe_sequence.cpp).
std::unique_ptr<Probe> make_probe_sequence(std::unique_ptr<Probe> first, std::unique_ptr<Probe> second,
                                           std::string first_name);

} // namespace haven::upstream
