// HttpSession: one client connection in http mode. Reads request heads (keep-alive, pipelined
// requests answered in order), hands each to the pipeline, enforces the client-side timeouts and
// closes the connection when the protocol, the client or a shutdown says so.
#pragma once

#include "http/parser.hpp"
#include "net/buffer_pool.hpp"
#include "net/io.hpp"
#include "net/stream.hpp"
#include "proxy/session.hpp"
#include "proxy/worker_context.hpp"

#include <asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace haven::proxy {

struct RequestContext;

// Which deadline is running; when it fires, the operation in progress fails and this says why.
enum class TimeoutKind : std::uint8_t {
    None,
    RequestHead, // timeouts.request_headers: the whole head must arrive in time
    KeepAlive,   // timeouts.client_idle: waiting for the next request
    ClientBody,  // timeouts.client_idle: client stopped sending the request body
    ClientWrite, // timeouts.client_idle: client stopped reading the response
    Connect,     // timeouts.connect
    Server,      // timeouts.server: the server stopped sending or reading
    Park,        // idle long enough to give the input buffer back (not an error)
    Tunnel,      // timeouts.client_idle: a WebSocket tunnel silent both ways
};

class HttpSession final : public Session {
public:
    HttpSession(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener);
    ~HttpSession() override;

    // Serves a new connection until it closes; the session frees itself then.
    static void start(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener);

    // Session
    bool idle() const override { return idle_; }
    TimePoint idle_since() const override { return idle_since_; }
    void close_idle() override;
    void on_drain() override;
    void force_close() override;

    // --- used by the pipeline stages
    WorkerContext& worker() { return w_; }
    net::Stream& client() { return client_; }
    bool tls() const { return client_.tls() != nullptr; }
    net::IoBuffer& input() { return in_; }
    std::string_view client_ip() const { return client_ip_; }
    std::uint32_t listener() const { return listener_; } // the listener's slot (see Snapshot)
    ListenerMetrics& listener_metrics() { return *metrics_; }
    bool closing() const { return closing_; }
    // Shutdown gave up waiting (drain timeout): nothing more is attempted for this connection.
    bool aborted() const { return aborted_; }

    // Starts the deadline for the next operation; `upstream` (if any) is cancelled with the client
    // socket when it fires.
    void arm(TimeoutKind kind, std::chrono::milliseconds d);
    void disarm() { DeadlineList::clear(deadline_); kind_ = TimeoutKind::None; }
    TimeoutKind fired() const { return fired_; }
    void clear_fired() { fired_ = TimeoutKind::None; }
    void watch_upstream(asio::ip::tcp::socket* s) { upstream_ = s; }

    // Bytes that arrived after a streamed request body (the next pipelined request).
    std::string& pending_input() { return pending_; }

private:
    enum class HeadStatus : std::uint8_t { Ready, Closed, Parked };

    void resume();
    net::awaitable<void> run();
    net::awaitable<HeadStatus> read_head();
    net::awaitable<bool> handshake();
    void park();
    void count_waiting(bool on);
    void wait_readable();
    net::awaitable<void> reject(int status, ResponseFlag flag);
    net::awaitable<void> linger_close();
    void begin_request();
    void end_request();
    void become_idle();
    static void on_deadline(Deadline* d);

    WorkerContext& w_;
    net::Stream client_;
    std::uint32_t listener_;
    ListenerMetrics* metrics_; // owned by the server's MetricsStore, which outlives sessions
    std::string client_ip_;
    Deadline deadline_;
    TimeoutKind kind_ = TimeoutKind::None;
    TimeoutKind fired_ = TimeoutKind::None;
    asio::ip::tcp::socket* upstream_ = nullptr;
    bool idle_ = true; // reading a request head, no request in progress
    bool closing_ = false;
    bool aborted_ = false;
    bool first_request_ = true;
    bool linger_ = false; // unread request bytes remain: drain them before closing
    bool finished_ = false; // the connection is closed: free the session when run() returns
    bool park_now_ = false;  // skip the wait with a buffer: park as soon as the head loop starts
    bool waiting_counted_ = false; // counted in the worker's waiting_idle
    bool handshaken_ = false;      // TLS: the handshake is done (plain: unused)
    TimePoint idle_since_{};
    RequestContext* ctx_ = nullptr;
    std::optional<http::RequestParser> parser_;
    std::string pending_;
    // Request heads are read into a small pooled buffer (most heads fit), moved to a full-size one
    // when they do not. A connection idle past kParkAfter gives its buffer back and waits for
    // readability without one, so idle keep-alive connections cost little memory.
    net::IoBuffer in_;
};

} // namespace haven::proxy
