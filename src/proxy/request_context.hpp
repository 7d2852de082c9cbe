// RequestContext: the state of one request as it moves through the pipeline. Pooled per worker
// (WorkerContext::acquire_request), so its header arrays are allocated once, not per request.
#pragma once

#include "http/chunked.hpp"
#include "http/codec.hpp"
#include "http/parser.hpp"
#include "net/buffer_pool.hpp"
#include "proxy/metrics.hpp"
#include "proxy/stage.hpp"
#include "policy/route_policies.hpp"
#include "session/cookie.hpp"
#include "upstream/circuit/breaker.hpp"
#include "upstream/conn_pool.hpp"
#include "upstream/pool_manager.hpp"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace haven::proxy {

class HttpSession;
class WorkerContext;

struct RequestContext {
    explicit RequestContext(std::size_t max_headers)
        : req_headers(max_headers), resp_headers(max_headers) {}

    // Makes the context ready for a new request (keeps allocations).
    void reset();

    HttpSession* session = nullptr;
    WorkerContext* worker = nullptr;

    // --- request (views into the session's input buffer, valid until the request ends)
    std::vector<http::Header> req_headers;
    http::RequestHead req;
    TimePoint start{};
    std::int64_t start_wall_us = 0;
    std::size_t input_used = 0;      // bytes of the session input buffer this request occupies
    std::uint64_t body_sent = 0;     // request body bytes forwarded so far
    bool body_complete = false;      // the whole request body was received and forwarded
    bool body_streamed = false;      // part of the body was read after the head
    bool body_copy_valid = false;    // a streamed body was kept whole in body_copy (<= retry_buffer)
    std::string body_copy;           // the streamed part of the body, for a retry
    bool request_sent = false;       // a byte of this attempt's request reached the server
    std::array<char, 32> request_id{}; // generated when the client sent none
    bool generated_id = false;

    // --- routing and balancing
    RouteMetrics* route_metrics = nullptr; // the matched route's counters ("none" when unmatched)
    std::uint32_t pool_index = UINT32_MAX;
    upstream::PoolRuntime* pool = nullptr;
    upstream::HostIndex host = upstream::kNoHost;
    upstream::HostRuntime* host_rt = nullptr; // leased while the request uses the host
    // The server's max_connections slot held with the lease (null: none); slot_wait: every server
    // this request may use is full, wait in the pool's queue (stages::server_queue_wait).
    std::shared_ptr<upstream::ServerSlots> slots;
    bool slot_wait = false;
    std::array<upstream::HostIndex, 8> tried{};
    std::uint8_t attempts = 0;       // servers tried (attempts on a stale connection not counted)
    std::uint32_t retries = 0;       // retries made under the pool's policy
    bool pool_held = false;          // holding the pool (begin_attempts .. end_attempts)
    // --- policies (stages/policy.cpp)
    policy::RoutePolicies* policies = nullptr; // the matched route's
    upstream::BreakerGate::Admission route_admission = upstream::BreakerGate::Admission::NotAsked;
    upstream::BreakerGate::Admission pool_admission = upstream::BreakerGate::Admission::NotAsked;
    Duration policy_wait{0};                 // a rate limit's delay or a delay fault, before pick
    policy::FaultState* fault_delay = nullptr; // the delay fault slot held
    policy::Bulkhead* bulkhead = nullptr;    // the bulkhead slot held
    bool bulkhead_pending = false;           // no slot free: wait for one (policy_wait)
    policy::jwt::RequestScratch jwt;         // the fields as forwarded when the JWT check rewrote them
    upstream::ResourceLimits* caps = nullptr; // the pool's caps, while this request holds a request slot
    std::uint8_t capped_retries = 0;          // retry slots held
    std::array<char, 192> reply_fields{};    // extra fields of haven's own reply (Retry-After, RateLimit, WWW-Authenticate)
    std::size_t reply_fields_len = 0;
    // Fields haven adds to the server's response: RateLimit-Policy and RateLimit of a request a rate
    // limit let through, X-Haven-Degraded of a request the route's fallback pool serves.
    std::array<char, 160> added_fields{};
    std::size_t added_fields_len = 0;
    std::uint32_t fallback_pool = UINT32_MAX; // the route's fallback pool (UINT32_MAX: none)
    bool stale_capture = false;   // keeping this response for fallback.stale_if_error (respond.cpp)
    std::string stale_body;       // its body so far
    const char* degraded = nullptr;           // why the fallback pool serves this request (null: it does not)
    bool backoff_due = false;        // a retry was decided: wait the backoff if pick repeats a server
    bool attempt_reported = false;   // this attempt's outcome went to outlier detection

    // --- stickiness (stages/sticky.cpp)
    upstream::HostIndex sticky_host = upstream::kNoHost; // the server the request's cookie or table entry names
    upstream::HostIndex cookie_host = upstream::kNoHost; // the server the request's sticky cookie names
    std::uint64_t stick_key = 0;     // the request's stick table key (0: it has none)
    bool sticky_done = false;        // the request side was worked out (first pick)
    session::FieldScratch sticky_req;  // the request's fields with the sticky cookie rewritten
    session::FieldScratch sticky_resp; // the response's fields with the server's cookie rewritten

    // --- upstream exchange
    std::unique_ptr<upstream::UpstreamConn> conn;
    bool conn_reused = false;
    bool force_fresh = false;        // next connect must open a new connection (after a stale one)
    std::uint8_t stale_retries = 0;
    net::IoBuffer resp_buf;          // pooled buffer for the response
    std::vector<http::Header> resp_headers;
    http::ResponseHead resp;
    bool response_started = false;   // a byte of the response reached the client: no more retries
    bool upgrade = false;            // a WebSocket handshake was forwarded: a 101 opens a tunnel
    bool upstream_reusable = false;
    http::HeadBuilder out_head;      // the head being forwarded (request, then response)
    http::ChunkedDecoder chunked;    // framing of a chunked body being relayed

    // --- outcome
    int status = 0;
    ResponseFlag flag = ResponseFlag::None;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    bool close_client = false;       // close the client connection after this response
};

} // namespace haven::proxy
