// src/config: haven's configuration — plain structs (this file), the YAML loader that fills them
// with file/line/column for every error (yaml_loader), cross-checks (validate) and, later, the
// difference between two configs for hot reload (diff).
//
// Every key a user can write is a field here and is documented in docs/configuration.md.
// Defaults live in the member initialisers below, so a reader sees them in one place.
#pragma once

#include "config/basics.hpp"
#include "config/sticky_schema.hpp"
#include "config/supervisor_schema.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace haven::net::tls {
class ServerContext;
class ClientContext;
} // namespace haven::net::tls

namespace haven::config {


// "127.0.0.1:8080", "[::1]:8080", "localhost:80". Host names are resolved when the config is
// loaded; the first address returned is used.
struct Endpoint {
    std::string text;  // as written, for messages and the admin API
    std::string host;  // host part without brackets
    std::uint16_t port = 0;
};

enum class ListenerMode { Http, Tcp };
enum class Balance { RoundRobin, LeastConn, Random2, Hash };
enum class HashOn { Source, Header, Cookie, Path };

struct HashKey {
    HashOn on = HashOn::Source;
    std::string name; // header or cookie name for HashOn::Header / HashOn::Cookie
};

struct RouteMatch {
    std::optional<std::string> host;        // exact, case-insensitive, port ignored; "*.example.com" wildcard
    std::optional<std::string> path_prefix; // byte prefix of the path
    std::optional<std::string> path;        // exact path
    std::vector<std::string> methods;       // empty = any
};

// --- Resilience policies (docs/policies.md): on a listener they are every route's defaults; a
// route's own replace them kind by kind, except rate limits, which are enforced together.

// "10 per minute": `count` requests per `period`.
struct RateSpec {
    std::uint64_t count = 0;
    Duration period{0};
    std::string text; // as written, for the admin API
    bool operator==(const RateSpec&) const = default;
};

enum class LimitKeyKind { Client, Header, Cookie, Route, Claim };
struct LimitKey {
    LimitKeyKind kind = LimitKeyKind::Client;
    std::string name; // header, cookie or JWT claim name
    bool operator==(const LimitKey&) const = default;
};

struct RateLimitPolicy {
    std::vector<RateSpec> limits;             // at most 4, all enforced together
    LimitKey key;                             // what is counted: client (address), header:N, cookie:N, claim:N, route
    std::uint32_t burst = 0;                  // requests at once; 0: each limit's count
    Duration delay{0};                        // > 0: hold a request up to this long instead of 429
    std::uint32_t max_keys = 100'000;         // per route; least recently used keys are forgotten
    std::vector<std::string> trusted_proxies; // addresses/CIDRs whose X-Forwarded-For is believed
    bool shared = true;                       // with shared_state: one limit across the instances
    SourceLoc loc;
    bool operator==(const RateLimitPolicy&) const = default;
};

struct CircuitBreakerPolicy {
    std::uint32_t consecutive_failures = 5; // 0: off
    double failure_ratio = 0;               // over `window`; 0: off
    std::uint32_t min_requests = 20;
    Duration window{10'000};
    Duration timeout{60'000};               // how long it stays open (doubles per trip in a row)
    Duration max_timeout{600'000};
    std::uint32_t half_open_requests = 1;   // probes at once
    std::uint32_t close_after = 1;          // probe successes that close it
    std::vector<std::string> failure_on = {"connect-failure", "reset", "timeout", "502", "503", "504"};
    Duration slow_call{0};                  // > 0: slower responses count as failures
    SourceLoc loc;
    bool operator==(const CircuitBreakerPolicy&) const = default;
};

struct FaultPolicy {
    double abort_percent = 0;      // 0..1
    std::uint32_t abort_status = 503;
    double delay_percent = 0;      // 0..1
    Duration delay{0};
    bool header_faults = false;    // honour x-haven-fault-abort / x-haven-fault-delay
    std::uint32_t max_active = 1000; // requests a delay fault holds at once
    SourceLoc loc;
    bool operator==(const FaultPolicy&) const = default;
};

// The last good response to a GET, kept to answer when the route cannot be served (RFC 5861
// stale-if-error; docs/policies.md "Stale responses").
struct StaleIfError {
    std::uint32_t max_bytes = 16u << 20; // per route, shared out among the worker threads
    std::uint32_t max_object = 1u << 20; // a larger response is not kept
    Duration max_stale{600'000};         // how long past its freshness a copy may serve, unless the
                                         // response says (Cache-Control: stale-if-error=N)
    bool operator==(const StaleIfError&) const = default;
};

struct FallbackPolicy {
    std::string pool;       // send the request to this pool first (empty: none)
    bool reply = true;      // answer with the static reply below (false: only `pool` was given)
    SourceLoc pool_loc;
    std::uint32_t status = 503;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;       // or read from body_file at load
    std::string body_file;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<StaleIfError> stale_if_error; // before the static reply, when a copy is there
    std::string degraded_header = "X-Haven-Degraded"; // names why a degraded answer is one; "": none
    SourceLoc loc;
    bool operator==(const FallbackPolicy&) const = default;
};

// A cap on the route's requests in flight with a bounded queue (the brief's bulkhead).
struct BulkheadPolicy {
    std::uint32_t max_concurrent = 100;
    std::uint32_t max_queue = 0;    // requests that may wait for a slot; beyond: 503
    Duration queue_timeout{1'000};  // a request waits at most this long, then 503
    SourceLoc loc;
    bool operator==(const BulkheadPolicy&) const = default;
};

// --- JWT authentication (docs/jwt.md). Key files are read by the loader: their content is part
// of the policy, so a reload that finds a changed file builds the route's check anew.
struct JwtKey {
    std::string file;        // a PEM public key or certificate, path as written
    std::string secret_file; // or an HMAC secret
    std::string kid;         // empty: tried for any token
    std::string alg;         // empty: any allowed algorithm of the key's family
    std::string material;    // the file's content (filled by the loader; never shown)
    SourceLoc loc;
    bool operator==(const JwtKey&) const = default;
};

enum class JwtFrom { Bearer, Header, Cookie };

struct JwtPolicy {
    std::vector<std::string> issuers;    // empty: iss not checked
    std::vector<std::string> audiences;  // empty: aud not checked
    std::vector<std::string> algorithms; // required; never "none"
    std::vector<JwtKey> keys;
    std::string jwks_file;
    std::string jwks;                    // its content (filled by the loader; never shown)
    Duration leeway{30'000};             // for exp, nbf and iat
    JwtFrom from = JwtFrom::Bearer;      // Authorization: Bearer, a header, or a cookie
    std::string from_name;               // header or cookie name
    bool required = true;                // false: a request without a token passes, without claims
    bool require_exp = true;
    std::vector<std::pair<std::string, std::string>> forward_claims; // claim -> request header
    std::uint32_t cache_size = 4096;     // verified tokens kept per route (over all workers)
    std::string realm;                   // in WWW-Authenticate; empty: none
    SourceLoc loc;
    bool operator==(const JwtPolicy&) const = default;
};

struct Policies {
    std::optional<JwtPolicy> jwt;
    std::optional<RateLimitPolicy> rate_limit;
    std::optional<BulkheadPolicy> bulkhead;
    std::optional<CircuitBreakerPolicy> circuit_breaker;
    std::optional<FaultPolicy> fault;
    std::optional<FallbackPolicy> fallback;
    SourceLoc loc;
    bool operator==(const Policies&) const = default;
    bool empty() const { return !jwt && !rate_limit && !bulkhead && !circuit_breaker && !fault && !fallback; }
};

struct Route {
    std::optional<RouteMatch> match; // absent: matches every request (the default route)
    std::string pool;
    Policies policies;
    SourceLoc loc;
};

// Service level objectives (docs/slo.md): `slo:` at the top level applies to every listener; a
// listener's own `slo:` replaces it for that listener.
struct Slo {
    double availability = 0.9995;    // "99.95%"
    Duration latency_p99{500};       // "500ms"
    double error_rate = 0.001;       // "0.1%"
    Duration window{30LL * 24 * 3600 * 1000}; // "30d"
    SourceLoc loc;
};

// TLS on a listener (docs/tls.md). The loader reads the files and builds the OpenSSL contexts
// (`context`), so a certificate that cannot serve is a config error and a reload re-reads them.
struct TlsCertificate {
    std::string cert_file;  // PEM: the certificate, then its chain
    std::string key_file;   // PEM: its private key
    std::string ocsp_file;  // DER OCSP response to staple; empty: no stapling
    SourceLoc loc;
};

struct TlsListener {
    std::vector<TlsCertificate> certificates; // chosen by SNI; the first is the default
    std::string min_version = "1.2";          // "1.2" or "1.3"; TLS 1.3 is the maximum
    std::string ciphers;                      // TLS 1.2 cipher list; empty: Mozilla "intermediate"
    std::string ciphersuites;                 // TLS 1.3 suites; empty: OpenSSL's default three
    std::string curves;                       // empty: X25519:prime256v1:secp384r1
    std::vector<std::string> alpn;            // empty: http/1.1 on http listeners, none on tcp
    bool session_tickets = true;              // stateless resumption, keys rotated every ticket_rotation
    Duration ticket_rotation{3'600'000};
    std::uint32_t session_cache = 20'000;     // server-side cache entries; 0: none
    std::shared_ptr<const net::tls::ServerContext> context;
    SourceLoc loc;
    bool operator==(const TlsListener& o) const { return context == o.context; }
};

// TLS toward a pool's servers and its health checks (docs/tls.md).
struct TlsUpstream {
    bool verify = true;         // check the server's certificate chain and name
    std::string ca_file;        // PEM bundle; empty: the system's trust store
    std::string server_name;    // SNI and the name verified; empty: the server address's host
    std::string cert_file;      // client certificate (mTLS), with key_file
    std::string key_file;
    std::string min_version = "1.2";
    std::string ciphers;        // empty: as listeners
    std::shared_ptr<const net::tls::ClientContext> context;
    SourceLoc loc;
    bool operator==(const TlsUpstream& o) const { return context == o.context; }
};

struct Listener {
    std::string name;
    Endpoint listen;
    ListenerMode mode = ListenerMode::Http;
    std::vector<Route> routes; // http: first match wins
    std::string pool;          // shorthand: a default route to this pool (required for tcp)
    std::optional<Slo> slo;    // overrides the top-level slo for this listener
    Policies policies;         // every route's defaults
    std::optional<TlsListener> tls; // terminate TLS (docs/tls.md)
    SourceLoc loc;
};

// How a server's health starts (`initial:`): Check — its first check decides (haven checks every
// server once before it accepts connections, and a server added by a reload is checked at once;
// until then it counts as up); Up — up until `fall` checks fail; Down — down until `rise` pass.
enum class InitialHealth { Check, Up, Down };

// Active health checks (docs/failover.md). Defaults follow HAProxy's `check` where it has one.
// timeout, fast_interval and down_interval follow `interval` unless written (the loader derives
// them, see derive_check_defaults); the values below are those for the default interval.
// `health_check.postgres:` (docs/database-ha.md): log in with libpq and ask the server its role
// (pg_is_in_recovery()) and, on a replica, its replay lag.
struct PostgresCheck {
    std::string user = "postgres";
    std::string database = "postgres";
    std::string password_file; // "" : no password (trust, or a .pgpass the process can read)
    std::string password;      // read from password_file at load; never printed or logged
    std::string sslmode = "prefer"; // libpq's: disable, allow, prefer, require
    bool operator==(const PostgresCheck&) const = default;
};

struct HealthCheck {
    enum class Kind { Http, Tcp, Postgres };
    Kind kind = Kind::Http;
    PostgresCheck postgres;                         // kind Postgres
    // Also connect to the server's own (traffic) port before each check, so a check on another
    // port (Patroni's REST API) cannot pass while the service itself refuses connections. Unset:
    // on in a pool with `role:` (for servers checked on another port), off otherwise.
    std::optional<bool> connect;
    std::string method = "GET";
    std::string path = "/health";
    std::string host;                               // Host header; empty: the server's address
    std::vector<std::pair<int, int>> expect_status = {{200, 399}}; // inclusive ranges
    std::string expect_body;                        // substring; empty: any body
    std::uint16_t port = 0;                         // probe this port instead of the server's
    Duration interval{5'000};      // between checks while stable
    Duration timeout{2'000};       // one check: min(2s, interval)
    Duration fast_interval{1'000}; // while a transition is in progress: min(1s, interval / 2)
    Duration down_interval{5'000}; // while stable and down: interval
    std::uint32_t rise = 2;        // consecutive successes: down -> up
    std::uint32_t fall = 3;        // consecutive failures: up -> down
    double jitter = 0.10;          // +/- fraction on every interval
    InitialHealth initial = InitialHealth::Check;
    SourceLoc loc;
};

// The defaults that follow `interval`, for the keys not written.
struct CheckKeysWritten {
    bool timeout = false;
    bool fast_interval = false;
    bool down_interval = false;
};
void derive_check_defaults(HealthCheck& hc, const CheckKeysWritten& written);

// Per-server overrides of the pool's health_check (only the keys set are applied).
struct HealthCheckOverride {
    std::optional<std::string> path;
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    std::optional<std::string> expect_body;
    std::optional<std::vector<std::pair<int, int>>> expect_status;
    SourceLoc loc;
};

enum class AdminState { Ready, Drain, Maint };

struct Server {
    std::string name;
    Endpoint address;
    std::uint32_t weight = 1; // 0..256; 0 = drained (no new requests)
    bool backup = false;      // HAProxy-style backup: priority 1 unless `priority` is set
    std::optional<std::uint32_t> priority; // tier, 0..255; lower is preferred
    AdminState state = AdminState::Ready;  // `state: ready|drain|maint`
    std::optional<HealthCheckOverride> health_check;
    std::string region;  // `regions:` entry whose health gates this server ("" : none)
    SourceLoc region_loc;
    // Requests in flight to the server at once, for the process (HAProxy `maxconn`); 0: no cap.
    // Over it, requests go to another server with room, else wait in the pool's `queue`.
    std::uint32_t max_connections = 0;
    // The value of the pool's sticky cookie that names this server (HAProxy `cookie web1`);
    // empty: derived from the pool's and the server's names (docs/sessions.md).
    std::string cookie;
    SourceLoc loc;

    std::uint32_t tier() const { return priority ? *priority : (backup ? 1u : 0u); }
};

// Passive checks on live traffic (outlier detection).
struct OutlierDetection {
    std::uint32_t consecutive_failures = 5; // 0 = off
    Duration base_ejection{30'000};
    Duration max_ejection{300'000};
    std::uint32_t max_ejected_percent = 50;
    SourceLoc loc;
};

enum class OnAllDown { Fail, TryAll };

// Which database role a pool's servers must have (docs/database-ha.md): Any — no role check;
// Primary — the one writable server (none when zero or two claim it); Replica — read-only
// servers within max_lag; PreferReplica — the replicas, else the primary.
enum class PoolRole { Any, Primary, Replica, PreferReplica };
// What happens to open connections to a server that goes down (HAProxy `on-marked-down`).
enum class OnMarkedDown { None, ShutdownSessions };

// Idle upstream connections kept per server and per worker thread.
struct UpstreamKeepalive {
    std::uint32_t max_idle = 1024; // enough for every request in flight to find a warm connection
    Duration idle_timeout{10'000}; // shorter than common server keep-alive timeouts (nginx: 75s)
};

struct Pool {
    std::string name;
    Balance balance = Balance::RoundRobin;
    HashKey hash_on;
    std::vector<Server> servers;
    UpstreamKeepalive keepalive;
    std::optional<HealthCheck> health_check; // absent: servers are assumed up
    OutlierDetection outlier_detection;
    // Failover across tiers (docs/failover.md).
    std::uint32_t min_healthy = 1;
    bool all_backups = false;
    OnAllDown on_all_down = OnAllDown::Fail;
    Duration slow_start{0};
    // Database roles (docs/database-ha.md).
    PoolRole role = PoolRole::Any;
    Duration max_lag{0};            // replicas: replay lag in time; 0: no bound
    std::uint32_t max_lag_bytes = 0; // replicas: bytes behind the primary; 0: no bound
    std::optional<OnMarkedDown> on_marked_down; // unset: shutdown_sessions with a role, else none
    OnMarkedDown marked_down() const {
        return on_marked_down.value_or(role == PoolRole::Any ? OnMarkedDown::None : OnMarkedDown::ShutdownSessions);
    }
    // Retries (docs/proxying.md, "Retry rules"). Defaults retry only what is always safe.
    std::uint32_t retries = 2;
    std::vector<std::string> retry_on = {"connect-failure", "reset"};
    Duration per_try_timeout{0};   // 0: timeouts.server per try
    bool retry_non_idempotent = false;
    std::uint64_t retry_buffer = 64 * 1024;
    // The retry budget (docs/proxying.md): over any 10 s, per worker, retries <= max_retry_ratio ×
    // requests + min_retries_per_second × 10.
    double max_retry_ratio = 0.2;
    std::uint32_t min_retries_per_second = 10;
    Duration retry_backoff{25};    // base of the jittered exponential backoff (max 10x)
    std::optional<CircuitBreakerPolicy> circuit_breaker; // the pool's own breaker (docs/policies.md)
    // Caps on what the pool uses at once, for the process (docs/policies.md); 0: no cap.
    struct ResourceLimits {
        std::uint32_t max_requests = 0;
        std::uint32_t max_connections = 0;
        std::uint32_t max_retries = 0;
        SourceLoc loc;
        bool operator==(const ResourceLimits&) const = default;
    } resource_limits;
    // Where requests wait while every server they may use is at its max_connections (HAProxy's
    // backend queue, `maxqueue` and `timeout queue`); docs/policies.md.
    struct ServerQueue {
        std::uint32_t max = 1024;   // waiting requests; one more is answered 503 at once
        Duration timeout{0};        // 0: timeouts.connect (as HAProxy's timeout queue)
        SourceLoc loc;
        bool operator==(const ServerQueue&) const = default;
    } queue;
    std::optional<TlsUpstream> tls; // speak TLS to the servers (docs/tls.md)
    std::optional<Sticky> sticky;   // session persistence (docs/sessions.md)
    SourceLoc loc;
};

struct Timeouts {
    Duration connect{2'000};          // TCP connect to a server
    Duration request_headers{10'000}; // total time for a request head, from its first byte
                                      // (from accept for the first request)
    Duration client_idle{60'000};     // keep-alive wait and client inactivity
    Duration server{30'000};          // server inactivity while a response is due
    Duration drain{30'000};           // graceful shutdown: time in-flight requests get
};

struct Limits {
    std::uint32_t max_header_bytes = 32768; // request or response head
    std::uint32_t max_headers = 100;        // field lines per head
    std::uint32_t max_request_line = 8192;  // request-line (414 beyond)
    std::uint32_t max_connections = 10000;  // client connections per process
    SourceLoc loc;                           // the `limits` mapping, for cross-field errors
};

struct AccessLog {
    bool enabled = false;
    std::string path; // file path, or "stdout" / "stderr"
};

// The admin listener (docs/admin.md): metrics, health, the JSON API, the dashboard. Absent: off.
struct Admin {
    Endpoint listen;        // never a data port
    std::string token_file; // bearer token for writes (read at load and on reload); empty: none
    std::string token;      // the file's content, trimmed (filled by the loader)
    // Off: an admin listener reachable from the network (not loopback) must have a token_file,
    // since without one anybody who reaches it may drain every server. On: accepted, knowingly.
    bool allow_writes_without_token = false;
    SourceLoc loc;
};

struct DnsConfig; // config/dns_schema.hpp

// `shared_state:` (docs/sessions.md#shared-state): the Redis through which several haven
// instances share their stick tables and rate limits. One Redis (`redis`, the first address that answers) or the
// master Redis Sentinel names (`sentinels` + `master`).
struct SharedState {
    std::vector<Endpoint> redis;
    std::vector<Endpoint> sentinels;
    std::string master;
    std::string password;
    std::uint32_t database = 0;
    std::string prefix = "haven"; // keys and channels start with "<prefix>:"
    Duration sync{100};           // how often shared rate-limit counts go to Redis
    SourceLoc loc;
};

struct Config {
    std::string source;    // file the config was read from
    unsigned threads = 0;  // worker threads; 0 = number of cores
    std::vector<Listener> listeners;
    std::vector<Pool> pools;
    Timeouts timeouts;
    Limits limits;
    AccessLog access_log;
    std::optional<Admin> admin;
    Slo slo;
    Supervisor supervisor; // `services:` and the pools that take servers from them
    // `regions:` and `dns:` (config/dns_schema.hpp, docs/dns.md); null when neither is written.
    std::shared_ptr<const DnsConfig> dns;
    std::optional<SharedState> shared_state;

    const Pool* find_pool(std::string_view name) const;
};

// The words the config uses for enum values (for summaries, the admin API, messages).
std::string_view name_of(ListenerMode m);
std::string_view name_of(Balance b);
std::string_view name_of(AdminState s);
std::string_view name_of(InitialHealth i);

} // namespace haven::config
