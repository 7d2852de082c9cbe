// The postgres check: log in with libpq and ask the server its role and replay lag. libpq's
// non-blocking API (PQconnectStartParams / PQconnectPoll, PQsendQuery / PQconsumeInput) runs on
// the control thread's io_context: each time libpq wants to read or write, the coroutine waits
// on libpq's socket with a non-owning stream_descriptor. One watchdog bounds the whole exchange.
#include "upstream/health/probe.hpp"
#include "upstream/health/probe_check.hpp"

#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <libpq-fe.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace haven::upstream {
namespace {

// One row: in recovery?, WAL position (primary: current; replica: replayed), replay lag in
// seconds (0 on a primary, and on a replica that has replayed all it received).
constexpr const char* kRoleQuery =
    "SELECT pg_is_in_recovery(),"
    " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_replay_lsn(), '0/0')"
    " ELSE pg_current_wal_lsn() END, '0/0')::bigint,"
    " (CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END)::float8";

struct PgCheck {
    PgCheck(asio::io_context& io, std::function<void(ProbeResult)> d, const Clock& c)
        : fd(io), watchdog(io), done(std::move(d)), clock(&c), started(c.now()) {}
    ~PgCheck() {
        release();
        if (conn) PQfinish(conn);
    }
    // libpq owns the socket: the descriptor only waits on it and never closes it.
    void release() {
        if (!fd.is_open()) return;
        asio::error_code ignored;
        fd.cancel(ignored);
        fd.release();
    }
    asio::posix::stream_descriptor fd;
    asio::steady_timer watchdog;
    std::function<void(ProbeResult)> done;
    const Clock* clock;
    TimePoint started;
    PGconn* conn = nullptr;
    bool timed_out = false;
    bool finished = false;
};

void pg_finish(PgCheck& c, ProbeResult r) {
    c.release();
    c.watchdog.cancel();
    deliver(c.done, c.finished, *c.clock, c.started, std::move(r));
}

// libpq's message, shortened to what an operator needs on one line ("connection refused",
// "password authentication failed for user \"haven\"", ...). It never contains the password.
std::string pg_reason(const PgCheck& c, std::string_view fallback) {
    if (c.timed_out) return "timeout";
    std::string msg = c.conn ? PQerrorMessage(c.conn) : "";
    if (msg.find("Connection refused") != std::string::npos) return "connection refused";
    if (const auto failed = msg.find("failed: "); failed != std::string::npos) msg = msg.substr(failed + 8);
    msg = msg.substr(0, msg.find('\n'));
    if (msg.size() > 200) msg.resize(200);
    return msg.empty() ? std::string(fallback) : "postgres: " + msg;
}

// Waits until libpq's socket is readable (or writable). The socket can change while libpq
// connects (another address, an SSL retry), so the descriptor is set anew for every wait.
asio::awaitable<bool> wait_socket(PgCheck& c, bool write) {
    const int sock = PQsocket(c.conn);
    if (sock < 0 || c.finished || c.timed_out) co_return false;
    c.release();
    asio::error_code ec;
    c.fd.assign(sock, ec);
    if (ec) co_return false;
    auto [wec] = co_await c.fd.async_wait(write ? asio::posix::stream_descriptor::wait_write
                                                : asio::posix::stream_descriptor::wait_read,
                                          net::use_nothrow);
    co_return !wec && !c.finished && !c.timed_out;
}

asio::awaitable<bool> pg_connect(PgCheck& c, const asio::ip::tcp::endpoint& target, const PgProbeSpec& spec) {
    const std::string addr = target.address().to_string();
    const std::string port = std::to_string(target.port());
    const char* keys[] = {"hostaddr", "port", "dbname", "user", "sslmode", "application_name", "password", nullptr};
    const char* vals[] = {addr.c_str(), port.c_str(), spec.database.c_str(), spec.user.c_str(), spec.sslmode.c_str(),
                          "haven-check", spec.password.empty() ? nullptr : spec.password.c_str(), nullptr};
    if (spec.password.empty()) keys[6] = nullptr;
    c.conn = PQconnectStartParams(keys, vals, 0);
    if (!c.conn || PQstatus(c.conn) == CONNECTION_BAD) co_return false;
    // libpq's protocol: wait for writability first, then poll until OK or FAILED.
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) co_return false;
        if (!co_await wait_socket(c, st == PGRES_POLLING_WRITING)) co_return false;
        st = PQconnectPoll(c.conn);
    }
    co_return PQsetnonblocking(c.conn, 1) == 0;
}

// Sends the role query and reads its one row into `out`.
asio::awaitable<bool> ask_role(PgCheck& c, ProbeResult& out) {
    if (!PQsendQuery(c.conn, kRoleQuery)) co_return false;
    for (int f = PQflush(c.conn); f != 0; f = PQflush(c.conn)) {
        if (f < 0 || !co_await wait_socket(c, true)) co_return false;
    }
    while (PQisBusy(c.conn)) {
        if (!co_await wait_socket(c, false) || !PQconsumeInput(c.conn)) co_return false;
    }
    PGresult* res = PQgetResult(c.conn);
    const bool good = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 3;
    if (good) {
        out.role = std::string_view(PQgetvalue(res, 0, 0)) == "t" ? DbRole::Replica : DbRole::Primary;
        out.lsn = std::strtoull(PQgetvalue(res, 0, 1), nullptr, 10);
        out.lag_seconds = std::strtod(PQgetvalue(res, 0, 2), nullptr);
    }
    if (res) PQclear(res);
    // The end of the query's results (libpq returns null once they are all read).
    while (PGresult* more = PQgetResult(c.conn)) PQclear(more);
    co_return good;
}

asio::awaitable<void> check_once(std::shared_ptr<PgCheck> c, asio::ip::tcp::endpoint target, PgProbeSpec spec) {
    if (c->finished) co_return;
    if (!co_await pg_connect(*c, target, spec)) {
        pg_finish(*c, ProbeResult{false, pg_reason(*c, "cannot connect")});
        co_return;
    }
    ProbeResult r{true, "ok"};
    if (!co_await ask_role(*c, r)) {
        pg_finish(*c, ProbeResult{false, pg_reason(*c, "role query failed")});
        co_return;
    }
    pg_finish(*c, std::move(r));
}

class PgProbe final : public Probe {
public:
    PgProbe(asio::io_context& io, asio::ip::tcp::endpoint target, PgProbeSpec spec, Duration timeout, const Clock& clock)
        : io_(io), target_(target), spec_(std::move(spec)), timeout_(timeout), clock_(clock) {}
    ~PgProbe() override { abandon(); }

    void start(std::function<void(ProbeResult)> done) override {
        abandon();
        auto check = std::make_shared<PgCheck>(io_, std::move(done), clock_);
        current_ = check;
        check->watchdog.expires_after(timeout_);
        check->watchdog.async_wait([weak = std::weak_ptr<PgCheck>(check)](const asio::error_code& ec) {
            auto c = weak.lock();
            if (ec || !c || c->finished) return;
            c->timed_out = true;
            c->release(); // the pending wait ends as aborted; the coroutine then reports the timeout
            pg_finish(*c, ProbeResult{false, "timeout"});
        });
        // Owner: the shared PgCheck; cancellation: abandon() or the watchdog releases the
        // descriptor, which ends the wait and so the coroutine.
        asio::co_spawn(io_, check_once(std::move(check), target_, spec_), asio::detached);
    }

private:
    void abandon() {
        auto c = current_.lock();
        if (!c || c->finished) return;
        c->finished = true;
        c->done = nullptr;
        c->release();
        c->watchdog.cancel();
    }

    asio::io_context& io_;
    asio::ip::tcp::endpoint target_;
    PgProbeSpec spec_;
    Duration timeout_;
    const Clock& clock_;
    std::weak_ptr<PgCheck> current_;
};

} // namespace

std::unique_ptr<Probe> make_pg_probe(asio::io_context& io, asio::ip::tcp::endpoint target, PgProbeSpec spec,
                                     Duration timeout, const Clock& clock) {
    return std::make_unique<PgProbe>(io, target, std::move(spec), timeout, clock);
}

} // namespace haven::upstream
