// src/config: haven's configuration — plain structs (this file), the YAML loader that fills them
// with file/line/column for every error (yaml_loader), cross-checks (validate) and, later, the
// difference between two configs for hot reload (diff).
//
// Every key a user can write is a field here and is documented in docs/configuration.md.
// Defaults live in the member initialisers below, so a reader sees them in one place.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace haven::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, for error messages: "haven.yaml:12:7: ...".
struct SourceLoc {
    int line = 0;   // 1-based; 0 = not from a file (default value)
    int column = 0; // 1-based
};

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

struct Route {
    std::optional<RouteMatch> match; // absent: matches every request (the default route)
    std::string pool;
    SourceLoc loc;
};

struct Listener {
    std::string name;
    Endpoint listen;
    ListenerMode mode = ListenerMode::Http;
    std::vector<Route> routes; // http: first match wins
    std::string pool;          // shorthand: a default route to this pool (required for tcp)
    SourceLoc loc;
};

struct Server {
    std::string name;
    Endpoint address;
    std::uint32_t weight = 1; // 0..256; 0 = drained (no new requests)
    SourceLoc loc;
};

// Idle upstream connections kept per server and per worker thread.
struct UpstreamKeepalive {
    std::uint32_t max_idle = 64;
    Duration idle_timeout{10'000}; // shorter than common server keep-alive timeouts (nginx: 75s)
};

struct Pool {
    std::string name;
    Balance balance = Balance::RoundRobin;
    HashKey hash_on;
    std::vector<Server> servers;
    UpstreamKeepalive keepalive;
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

struct Config {
    std::string source;    // file the config was read from
    unsigned threads = 0;  // worker threads; 0 = number of cores
    std::vector<Listener> listeners;
    std::vector<Pool> pools;
    Timeouts timeouts;
    Limits limits;
    AccessLog access_log;

    const Pool* find_pool(std::string_view name) const;
};

} // namespace haven::config
